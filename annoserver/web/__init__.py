"""HTTP layer: one blueprint per resource, plus the helpers they share. Only here is Flask."""
