"""Errors of the IIIF Presentation reader and writer, each with an HTTP-ish status.

They are :class:`annoserver.errors.AnnoserverError` subclasses, so the web layer maps them to
``application/problem+json`` (``status``, ``title`` and the human ``detail``)::

    PresentationError             422
    ├── NotIIIF                   422  not a IIIF Presentation manifest or collection
    ├── TooLarge                  413  more canvases or collection members than allowed
    │   └── TooDeep               413  collections nested deeper than allowed
    └── OutsideImage              400  a region that does not overlap the painted image
"""

from __future__ import annotations

from annoserver.errors import AnnoserverError


class PresentationError(AnnoserverError):
    """Base of the errors this package raises; ``status`` and ``title`` are fixed per class."""

    status = 422
    title = "Unprocessable IIIF resource"


class NotIIIF(PresentationError):
    """The document is not a IIIF Presentation 2.x/3.0 manifest or collection."""

    status = 422
    title = "Not a IIIF manifest or collection"


class TooLarge(PresentationError):
    """The document has more canvases or members than the configured limits allow."""

    status = 413
    title = "IIIF resource too large"


class TooDeep(TooLarge):
    """Collections are nested deeper than the configured limit."""

    title = "IIIF collections nested too deeply"


class OutsideImage(PresentationError):
    """A region does not overlap the part of the canvas (or image) that an image covers."""

    status = 400
    title = "Region outside the image"
