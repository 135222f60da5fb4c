"""Machine annotations: model results (image pixels) to W3C annotations with provenance.

Plugins return plain results in the pixel coordinates of the full-resolution image; this
module places them on their target — a IIIF canvas (scaled from image to canvas units, offset
where the image is painted on part of the canvas) or the image itself — as integer
``xywh=`` fragments, since Mirador 3 draws only integer fragments. Every annotation says
which model and version made it, on which runtime, and with what confidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from annoserver.inference.results import Box, Boxes, Label, Labels, Result, Text

ANNO_CONTEXT = "http://www.w3.org/ns/anno.jsonld"
MEDIA_FRAGMENTS = "http://www.w3.org/TR/media-frags/"

PixelBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class Provenance:
    """What made an annotation: the model (id, version, checksum) and where it ran."""

    model_id: str
    version: str
    sha256: str
    runtime: str
    provider: str
    model_url: str

    def creator(self) -> dict[str, Any]:
        """The W3C ``creator`` agent (a ``Software``), with our provenance terms."""
        return {"id": self.model_url, "type": "Software",
                "name": self.model_id, "modelVersion": self.version,
                "modelSha256": self.sha256, "runtime": self.runtime,
                "executionProvider": self.provider}


@dataclass(frozen=True)
class Placement:
    """Where an image lies in its target's coordinates.

    ``source`` is a canvas (``source_type="Canvas"``, ``width``/``height`` in canvas units,
    ``painted`` the canvas box the image covers, the whole canvas by default) or the image
    itself (``source_type="Image"``, target size = image size).
    """

    source: str
    source_type: str
    width: int
    height: int
    image_width: int
    image_height: int
    manifest: str | None = None
    painted: tuple[int, int, int, int] | None = None

    def to_target(self, box: PixelBox) -> tuple[int, int, int, int]:
        """Map an image-pixel box to integer target units, clipped to the target."""
        px, py, pw, ph = self.painted or (0, 0, self.width, self.height)
        sx, sy = pw / self.image_width, ph / self.image_height
        left = _clip(round(px + box[0] * sx), 0, self.width - 1)
        top = _clip(round(py + box[1] * sy), 0, self.height - 1)
        right = _clip(round(px + (box[0] + box[2]) * sx), left + 1, self.width)
        bottom = _clip(round(py + (box[1] + box[3]) * sy), top + 1, self.height)
        return left, top, right - left, bottom - top

    def target(self, box: PixelBox | None) -> dict[str, Any]:
        """A W3C target: the whole source (``box`` None) or an ``xywh=`` fragment of it."""
        source: dict[str, Any] = {"id": self.source, "type": self.source_type}
        if self.manifest:
            source["partOf"] = [{"id": self.manifest, "type": "Manifest"}]
        target: dict[str, Any] = {"type": "SpecificResource", "source": source}
        if box is not None:
            x, y, w, h = self.to_target(box)
            target["selector"] = {"type": "FragmentSelector", "conformsTo": MEDIA_FRAGMENTS,
                                  "value": f"xywh={x},{y},{w},{h}"}
        return target


def _clip(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def _text_body(value: str, purpose: str, score: float | None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "TextualBody", "value": value, "format": "text/plain",
                            "purpose": purpose}
    if score is not None:
        body["confidence"] = round(float(score), 4)
    return body


class AnnotationBuilder:
    """Builds W3C annotations for results, all sharing one context and creation time."""

    def __init__(self, context_url: str, created: datetime) -> None:
        self.context = [ANNO_CONTEXT, context_url]
        self.created = created.strftime("%Y-%m-%dT%H:%M:%SZ")

    def build(self, provenance: Provenance, result: Result, region: PixelBox,
              placement: Placement, whole_image: bool) -> list[dict[str, Any]]:
        """Annotations for one model's result on ``region`` (image pixels).

        Labels and text describe the analysed region (the whole target when ``whole_image``);
        boxes carry their own regions. Vectors and images are not annotations: [].
        """
        region_box = None if whole_image else region
        if isinstance(result, Labels):
            return [self._label(provenance, label, placement.target(region_box))
                    for label in result]
        if isinstance(result, Boxes):
            return [self._box(provenance, box, placement) for box in result]
        if isinstance(result, Text) and result.text.strip():
            return [self._annotation(provenance, "supplementing",
                                     _text_body(result.text, "supplementing", result.score),
                                     placement.target(region_box))]
        return []

    def build_view(self, provenance: Provenance, image: dict[str, Any],
                   target: dict[str, Any]) -> list[dict[str, Any]]:
        """An annotation supplementing ``target`` with a derived ``Image`` body.

        For a model whose result is a view of the region (super-resolution): the body is the
        image a service computes from the target's pixels, so the annotation says which model
        and version made it, like any machine annotation.
        """
        return [self._annotation(provenance, "supplementing", image, target)]

    def _label(self, provenance: Provenance, label: Label, target: dict) -> dict[str, Any]:
        return self._annotation(provenance, "tagging",
                                _text_body(label.label, "tagging", label.score), target)

    def _box(self, provenance: Provenance, box: Box, placement: Placement) -> dict[str, Any]:
        target = placement.target((box.x, box.y, box.w, box.h))
        if box.text:
            return self._annotation(provenance, "supplementing",
                                    _text_body(box.text, "supplementing", box.score), target)
        return self._annotation(provenance, "tagging",
                                _text_body(box.label or "region", "tagging", box.score), target)

    def _annotation(self, provenance: Provenance, motivation: str, body: dict,
                    target: dict) -> dict[str, Any]:
        return {"@context": self.context, "type": "Annotation", "motivation": motivation,
                "created": self.created, "creator": provenance.creator(),
                "body": body, "target": target}
