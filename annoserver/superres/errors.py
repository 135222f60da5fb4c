"""Errors of the super-resolution service that the shared hierarchy does not have.

Image API 3 separates a request it cannot parse (400, :class:`annoserver.errors.BadRequest`)
from a well-formed one asking for a feature this service does not offer (501)::

    AnnoserverError
    └── NotImplementedFeature   501
"""

from __future__ import annotations

from annoserver.errors import AnnoserverError


class NotImplementedFeature(AnnoserverError):
    """501: valid Image API syntax for a feature this service does not implement."""

    status = 501
    title = "Not Implemented"
