"""Errors of the IIIF Image API client, kept free of Flask so workers and the CLI can raise them.

They are :class:`annoserver.errors.AnnoserverError` subclasses with a fixed HTTP ``status`` and
a human ``detail``, so the web layer maps them to ``application/problem+json`` like any other::

    IIIFError                      500
    ├── BadRegion                  400  (malformed, empty or outside the image)
    ├── ForbiddenHost              403  (SSRF guard: non-public or not allow-listed host, dot
    │                                    segments in the path)
    ├── ImageTooLarge              413  (byte cap or pixel cap exceeded)
    ├── UndecodableImage           422  (corrupt, truncated or not an image)
    ├── UpstreamError              502  (refused, 4xx/5xx, bad redirect, garbage info.json)
    └── UpstreamTimeout            504  (connect/read timeout, total deadline, no host slot)
"""

from __future__ import annotations

from annoserver.errors import AnnoserverError


class IIIFError(AnnoserverError):
    """Base of the IIIF client's errors; ``status`` and ``title`` are fixed per class."""


class BadRegion(IIIFError):
    """The region is malformed, empty, or lies outside the image."""

    status = 400
    title = "Bad Region"


class ForbiddenHost(IIIFError):
    """The URL may not be fetched: scheme, host (private, not allow-listed...) or path."""

    status = 403
    title = "Forbidden Host"


class ImageTooLarge(IIIFError):
    """The response or the image it holds exceeds the byte or pixel limits."""

    status = 413
    title = "Image Too Large"


class UndecodableImage(IIIFError):
    """The bytes are corrupt, truncated, or not an image at all."""

    status = 422
    title = "Undecodable Image"


class UpstreamError(IIIFError):
    """The image server refused, failed, or answered something unusable.

    ``retry_after``: the seconds its last answer's ``Retry-After`` asked for (None: it asked
    nothing), so whoever tries again later (a job) can wait at least that long.
    """

    status = 502
    title = "Bad Gateway"
    retry_after: float | None = None


class UnknownHost(UpstreamError):
    """The host name does not exist (the resolver said so): trying again at once is futile."""


class UpstreamTimeout(IIIFError):
    """The image server did not answer (or finish answering) in time."""

    status = 504
    title = "Gateway Timeout"
