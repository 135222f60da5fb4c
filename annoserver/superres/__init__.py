"""Super-resolution as a IIIF Image API 3 service (no Flask here).

- :mod:`~annoserver.superres.params`: request parameters, the ``{upstream}`` segment.
- :mod:`~annoserver.superres.info`: the ``info.json`` and the service's URLs.
- :mod:`~annoserver.superres.tiling`: overlapped tiles, blended without seams.
- :mod:`~annoserver.superres.cache`: the size-bounded LRU disk cache and single-flight.
- :mod:`~annoserver.superres.service`: :class:`SuperResolutionService`, tying them together.
- :mod:`~annoserver.superres.errors`: 501 for features not offered.
"""

from annoserver.superres.cache import DiskCache, SingleFlight
from annoserver.superres.info import region_image, service_url
from annoserver.superres.params import ImageParams, Limits, decode_upstream, encode_upstream
from annoserver.superres.service import Rendered, SuperResolutionService
from annoserver.superres.tiling import TileSettings, enhance_tiled

__all__ = [
    "DiskCache", "ImageParams", "Limits", "Rendered", "SingleFlight", "SuperResolutionService",
    "TileSettings", "decode_upstream", "encode_upstream", "enhance_tiled", "region_image",
    "service_url",
]
