"""The hooks plugins implement (pluggy project ``annoserver``).

Hooks return registrations rather than acting, as datasette's do: the runtime collects what
every plugin returns and decides what to do with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from annoserver.inference.kinds import ModelKind

PROJECT = "annoserver"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_model_kinds() -> list[type[ModelKind]]:
    """Return the :class:`~annoserver.inference.kinds.ModelKind` subclasses a plugin provides.

    Each class's ``name`` is a ``kind`` value ``model.toml`` files may use; two plugins may not
    register the same name.
    """
