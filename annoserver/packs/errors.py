"""Errors of installing a model pack, kept free of Flask so the CLI can raise them.

They are :class:`annoserver.errors.AnnoserverError` subclasses like every other error::

    PackError                      400  (no such pack, a download or a build that failed)
    ├── LicenseNotAccepted         403  (the pack's license was not accepted by name)
    └── WheelMismatch              422  (the package file is not the pinned one)
"""

from __future__ import annotations

from annoserver.errors import AnnoserverError


class PackError(AnnoserverError):
    """A model pack could not be installed."""

    status = 400
    title = "Model Pack Not Installed"


class LicenseNotAccepted(PackError):
    """The pack's license must be accepted, by its exact name, before anything is fetched."""

    status = 403
    title = "License Not Accepted"


class WheelMismatch(PackError):
    """The package file's sha256 (or a file inside it) differs from the value pinned here."""

    status = 422
    title = "Package File Mismatch"
