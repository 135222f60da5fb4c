"""The IIIF Image API client: only the pixels a model needs, fetched politely and safely.

No Flask here: the web layer, workers and the CLI share it. Modules:

- :mod:`~annoserver.iiif.image_api`: ``info.json`` (v2 and v3) → :class:`ImageService`.
- :mod:`~annoserver.iiif.region`: IIIF region strings → :class:`Box`.
- :mod:`~annoserver.iiif.planner`: which requests give a region at a :class:`Target` size.
- :mod:`~annoserver.iiif.guard`: the SSRF guard (:class:`HostGuard`).
- :mod:`~annoserver.iiif.session`: the session (:func:`make_session`), retries, host slots.
- :mod:`~annoserver.iiif.http`: guarded, capped downloads (:func:`fetch_bytes`).
- :mod:`~annoserver.iiif.cache`: the TTL cache for JSON.
- :mod:`~annoserver.iiif.decode`: OpenCV decoding with pixel caps.
- :mod:`~annoserver.iiif.client`: :func:`load_service`, :func:`fetch_region`.
- :mod:`~annoserver.iiif.errors`: the errors, each with an HTTP status.
"""

# decode first: it sets OPENCV_IO_MAX_IMAGE_PIXELS before cv2 is imported.
from annoserver.iiif.decode import decode_image  # isort: skip
from annoserver.iiif.client import RegionImage, execute_plan, fetch_region, load_service
from annoserver.iiif.errors import (
    BadRegion,
    ForbiddenHost,
    IIIFError,
    ImageTooLarge,
    UndecodableImage,
    UpstreamError,
    UpstreamTimeout,
)
from annoserver.iiif.guard import HostGuard
from annoserver.iiif.http import fetch_bytes, fetch_json
from annoserver.iiif.image_api import (
    ImageService,
    TileSpec,
    info_url,
    parse_info,
    thumbnail_url,
)
from annoserver.iiif.planner import ImageRequest, Plan, Target, plan_fetch
from annoserver.iiif.region import Box, parse_region
from annoserver.iiif.session import IIIFSession, Limits, make_session

__all__ = [
    "BadRegion", "Box", "ForbiddenHost", "HostGuard", "IIIFError", "IIIFSession",
    "ImageRequest", "ImageService", "ImageTooLarge", "Limits", "Plan", "RegionImage", "Target",
    "TileSpec", "UndecodableImage", "UpstreamError", "UpstreamTimeout", "decode_image",
    "execute_plan", "fetch_bytes", "fetch_json", "fetch_region", "info_url", "load_service",
    "make_session", "parse_info", "parse_region", "plan_fetch", "thumbnail_url",
]
