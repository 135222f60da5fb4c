"""Errors of batch jobs, each with an HTTP status (Flask-free, like every subsystem's).

They are :class:`annoserver.errors.AnnoserverError` subclasses, mapped to problem documents
like any other::

    JobError                       500
    ├── UnknownJob                 404  no job with this id
    ├── UnknownManifest            404  no registered manifest with this key
    ├── UnknownPage                404  no annotation page with this id
    ├── NoImageService             422  a canvas whose image has no IIIF Image API service
    └── UnsupportedPainting        422  an image painted rotated or mirrored
"""

from __future__ import annotations

from annoserver.errors import AnnoserverError


class JobError(AnnoserverError):
    """Base of the errors of batch jobs; ``status`` and ``title`` are fixed per class."""


class UnknownJob(JobError):
    """No job has this id."""

    status = 404
    title = "Not Found"


class UnknownManifest(JobError):
    """No manifest or collection is registered under this key."""

    status = 404
    title = "Not Found"


class UnknownPage(JobError):
    """No enriched manifest lists an annotation page with this id."""

    status = 404
    title = "Not Found"


class NoImageService(JobError):
    """The canvas paints no image with a IIIF Image API service, so nothing can be fetched."""

    status = 422
    title = "No Image Service"


class UnsupportedPainting(JobError):
    """The canvas paints its image in a way batch analysis cannot map results through."""

    status = 422
    title = "Unsupported Painting"
