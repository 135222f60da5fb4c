"""The plain, immutable picture of a IIIF manifest or collection that the rest of annoserver uses.

Readers (``v2``/``v3``) build these from JSON; nothing here knows which Presentation version a
document came from except the ``version`` field. Boxes are ``(x, y, w, h)`` in canvas units
(``region_on_canvas``) or image pixels (``image_region``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

from .errors import TooLarge


class Box(NamedTuple):
    """An axis-aligned rectangle ``(x, y, w, h)``; results of the scaling helpers are ints."""

    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class Limits:
    """Bounds on what a reader accepts; excess raises :class:`~.errors.TooLarge`/``TooDeep``."""

    max_canvases: int = 10_000
    max_depth: int = 5
    max_members: int = 10_000

    def check(self, count: int, limit: int, what: str) -> None:
        """Raise :class:`~.errors.TooLarge` when ``count`` exceeds ``limit``."""
        if count > limit:
            raise TooLarge(f"the document has {count} {what}; at most {limit} are accepted")


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class CanvasImage:
    """One image painted on a canvas.

    ``width``/``height`` are the full image's pixel size when the manifest says so, else
    ``None`` (the IIIF client may fill them in from ``info.json`` with ``dataclasses.replace``).
    ``image_region`` is the part of the image that is painted (an ``ImageApiSelector`` region;
    ``None`` = the whole image), turned by ``rotation`` degrees clockwise (after a horizontal
    flip when ``mirrored``) and scaled into ``region_on_canvas``.
    """

    image_url: str | None
    service_id: str | None
    service_version: int | None
    width: int | None
    height: int | None
    region_on_canvas: Box
    canvas_width: int
    canvas_height: int
    image_region: Box | None = None
    rotation: int = 0
    mirrored: bool = False
    format: str | None = None

    @property
    def source_box(self) -> Box:
        """The image pixels that are painted.

        That is ``image_region``, else the full image, else (size unknown) the painted size
        itself, so that an unknown size scales 1:1.
        """
        if self.image_region is not None:
            return self.image_region
        if self.width and self.height:
            return Box(0, 0, self.width, self.height)
        w, h = self.region_on_canvas.w, self.region_on_canvas.h
        return Box(0, 0, h, w) if self.rotation in (90, 270) else Box(0, 0, w, h)

    @property
    def pixel_size(self) -> tuple[float, float]:
        """The image's full pixel size as far as it is known (see :attr:`source_box`)."""
        if self.width and self.height:
            return self.width, self.height
        box = self.source_box
        return box.x + box.w, box.y + box.h


@dataclass(frozen=True)
class Canvas:
    """A canvas with a positive size, its painted images and its existing annotation pages."""

    id: str
    label: str
    width: int
    height: int
    images: tuple[CanvasImage, ...] = ()
    annotations: tuple[str, ...] = ()


@dataclass(frozen=True)
class SkippedCanvas:
    """A canvas the reader left out (no id, no positive size), and why."""

    id: str | None
    reason: str


@dataclass(frozen=True)
class Manifest:
    """A manifest: its canvases in reading order (first sequence for v2) and what was skipped."""

    id: str
    version: Literal[2, 3]
    label: str
    canvases: tuple[Canvas, ...]
    rights: str | None = None
    summary: str | None = None
    skipped: tuple[SkippedCanvas, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reference:
    """A member of a collection; ``collection`` is set when a sub-collection is embedded."""

    id: str
    type: Literal["Manifest", "Collection"]
    label: str = ""
    collection: Collection | None = None


@dataclass(frozen=True)
class Collection:
    """A collection and its members (manifests and sub-collections) in order."""

    id: str
    version: Literal[2, 3]
    label: str
    members: tuple[Reference, ...]
    notes: tuple[str, ...] = ()
