"""Bulk exports of a view of the store, streamed: JSON Lines, CSV and COCO.

Annotations are read in keyset batches, each on its own short connection, and every format is
written as a sequence of text chunks, never as one document in memory: an export of millions
of annotations holds one batch at a time. COCO is one JSON object, so it is written member by
member (its categories, discovered on the way, come last). Boxes in COCO are in the pixels of
the canvas's image (scaled from canvas units with :mod:`annoserver.presentation.geometry`), and
each image and box carries its IIIF Image API URL, so the dataset can be rebuilt. When the
manifest does not say how large an image is, the canvas's size stands in: the image's URL asks
the server for that size, so boxes and pixels still agree, and box regions are percentages.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Text, cast, select

from annoserver.presentation import (
    Box,
    Canvas,
    CanvasImage,
    Manifest,
    OutsideImage,
    canvas_to_image,
)
from annoserver.presentation.geometry import parse_xywh
from annoserver.store.fields import index_fields
from annoserver.store.listing import Filters, PageRow, filtered
from annoserver.store.tables import AnnotationRow, TargetRow

ANNO_CONTEXT = "http://www.w3.org/ns/anno.jsonld"
BATCH = 500
CSV_COLUMNS = ("annotation", "manifest", "canvas", "xywh", "label", "confidence", "model",
               "model_version", "motivation", "review", "created", "corrected_label")
# Spreadsheets run cells starting with these as formulae (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_CATEGORY = "text"


def _batch(connection: Connection, filters: Filters, after: int) -> list[PageRow]:
    """The next annotations of the manifest ``filters`` names, after ``after``.

    One range of the targets' (manifest, seq) index, however deep: the container's
    ``seq IN (targets of the manifest)`` would gather the whole manifest for every batch.
    """
    statement = (select(AnnotationRow.seq, AnnotationRow.slug, cast(AnnotationRow.document, Text))
                 .select_from(TargetRow)
                 .join(AnnotationRow, AnnotationRow.seq == TargetRow.annotation_seq)
                 .where(TargetRow.manifest == filters.manifest, TargetRow.annotation_seq > after,
                        AnnotationRow.seq > after)  # both sides: PostgreSQL merge-joins from here
                 .order_by(TargetRow.annotation_seq).limit(BATCH))
    statement = filtered(statement, replace(filters, manifest=None))
    return [PageRow(*row) for row in connection.execute(statement)]


def annotations(engine: Engine, filters: Filters,
                container_url: str) -> Iterator[dict[str, Any]]:
    """The annotations of a manifest (``filters.manifest``) in container order, with their ids.

    Each batch is read on its own short connection; one batch is in memory at a time.
    """
    after = 0
    while True:
        with engine.connect() as connection:
            rows = _batch(connection, filters, after)
        for row in rows:
            if row.seq == after:  # targets two canvases of the manifest: listed once
                continue
            after = row.seq
            document = json.loads(row.text)
            yield {"@context": document.pop("@context", ANNO_CONTEXT),
                   "id": container_url + row.slug, **document}
        if len(rows) < BATCH:
            return


def jsonl(items: Iterable[dict[str, Any]]) -> Iterator[str]:
    """One W3C annotation per line."""
    for annotation in items:
        yield json.dumps(annotation, ensure_ascii=False) + "\n"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


@dataclass(frozen=True)
class Placed:
    """Where an annotation is: a canvas and its ``xywh`` (canvas units; None: all of it)."""

    canvas: str
    xywh: str | None


def _placement(annotation: dict[str, Any]) -> Placed | None:
    """The first target's source and ``xywh`` fragment, whatever the target's shape."""
    targets = _as_list(annotation.get("target"))
    if not targets:
        return None
    target = targets[0]
    if isinstance(target, str):
        source, _, fragment = target.partition("#")
        return Placed(source, fragment.removeprefix("xywh=") if "xywh=" in fragment else None)
    pairs = index_fields({"target": target}).targets
    fragments = [s.get("value", "") for s in _as_list(target.get("selector"))
                 if isinstance(s, dict) and "xywh=" in str(s.get("value", ""))]
    xywh = fragments[0].rsplit("xywh=", 1)[-1] if fragments else None
    return Placed(pairs[0][0], xywh) if pairs else None


def _bodies(annotation: dict[str, Any]) -> list[tuple[str, float | None]]:
    """``(label, confidence)`` per body: a textual body's value, another body's id."""
    out = []
    bodies = _as_list(annotation.get("body"))
    if not bodies and isinstance(annotation.get("bodyValue"), str):
        bodies = [annotation["bodyValue"]]
    for body in bodies:
        if isinstance(body, str):
            out.append((body, annotation.get("confidence")))
        elif isinstance(body, dict):
            label = body.get("value") or body.get("id") or ""
            out.append((str(label), body.get("confidence", annotation.get("confidence"))))
    return out or [("", annotation.get("confidence"))]


def _corrected_label(annotation: dict[str, Any]) -> str | None:
    """What a reviewer said the label should be, when the latest review corrected it.

    Exports are training data: a person's correction is the label to learn from, so it is
    exported beside (never instead of) what the model said.
    """
    review = annotation.get("review")
    if not isinstance(review, dict) or review.get("verdict") != "corrected" \
            or review.get("body") is None:
        return None
    return _bodies({"body": review["body"]})[0][0] or None


def _creator(annotation: dict[str, Any]) -> tuple[str | None, str | None]:
    agents = [a for a in _as_list(annotation.get("creator")) if isinstance(a, dict)]
    if not agents:
        return index_fields(annotation).creator, None
    return agents[0].get("name") or agents[0].get("id"), agents[0].get("modelVersion")


def _neutral(value: Any) -> Any:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(items: Iterable[dict[str, Any]], manifest_id: str) -> Iterator[str]:
    """A header, then one row per annotation × body (RFC 4180 quoting, formulae neutralised)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for annotation in items:
        placed = _placement(annotation)
        model, version = _creator(annotation)
        review = annotation.get("review")
        verdict = review.get("verdict") if isinstance(review, dict) else None
        motivation = " ".join(m for m in _as_list(annotation.get("motivation"))
                              if isinstance(m, str))
        corrected = _corrected_label(annotation)
        for label, confidence in _bodies(annotation):
            writer.writerow([_neutral(value) for value in (
                annotation["id"], manifest_id, placed.canvas if placed else None,
                placed.xywh if placed else None, label, confidence, model, version,
                motivation, verdict, annotation.get("created"), corrected)])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


# -- COCO ---------------------------------------------------------------------------------


def _analysed_image(canvas: Canvas) -> CanvasImage | None:
    """The image jobs analyse on a canvas: the first with a IIIF service, else the first."""
    return next((i for i in canvas.images if i.service_id), canvas.images[0] if canvas.images
                else None)


def _iiif_url(image: CanvasImage, region: str, size: str | None = None) -> str | None:
    """A IIIF Image API URL of ``region`` (at full size by default); None without a service."""
    if not image.service_id:
        return None
    v2 = (image.service_version or 3) < 3
    size = size or ("full" if v2 else "max")
    return f"{image.service_id.rstrip('/')}/{region}/{size}/0/default.jpg"


def _known_size(image: CanvasImage) -> bool:
    """Whether the manifest says how large the image is (else boxes are in canvas units)."""
    return bool(image.width and image.height)


def _region(image: CanvasImage, box: Box) -> str:
    """``box`` as an Image API region: pixels, or percentages when the image's size is unknown."""
    if _known_size(image):
        return ",".join(map(str, box))
    width, height = image.pixel_size
    return "pct:" + ",".join(f"{value:g}" for value in (
        round(100 * box.x / width, 4), round(100 * box.y / height, 4),
        round(100 * box.w / width, 4), round(100 * box.h / height, 4)))


class CocoWriter:
    """Writes a registered manifest's annotations as a COCO detection dataset, in chunks."""

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self.images: dict[str, tuple[int, CanvasImage]] = {}
        self.categories: dict[str, int] = {}
        for canvas in manifest.canvases:
            image = _analysed_image(canvas)
            if image is not None:
                self.images[canvas.id] = (len(self.images) + 1, image)

    def _image_entry(self, canvas_id: str, number: int, image: CanvasImage) -> dict[str, Any]:
        """An image: its size, and a URL of it at that size (the canvas's when unknown)."""
        width, height = (round(side) for side in image.pixel_size)
        size = None
        if not _known_size(image):  # ask the server for the size the boxes are in
            size = f"{width},{height}" if (image.service_version or 3) < 3 \
                else f"^{width},{height}"
        return {"id": number, "width": width, "height": height,
                "file_name": f"{number:06d}.jpg",
                "coco_url": _iiif_url(image, "full", size) or image.image_url,
                "iiif_url": image.service_id, "canvas": canvas_id}

    def _entries(self, annotation: dict[str, Any], first_id: int) -> list[dict[str, Any]]:
        """COCO annotations (one per body) of a W3C annotation on one of our canvases."""
        placed = _placement(annotation)
        if placed is None or placed.canvas not in self.images:
            return []
        number, image = self.images[placed.canvas]
        canvas_box = parse_xywh(f"xywh={placed.xywh}", image.canvas_width,
                                image.canvas_height) if placed.xywh else None
        try:
            box = canvas_to_image(canvas_box or image.region_on_canvas, image)
        except OutsideImage:
            return []
        # Recognised text is one category (COCO-Text's way), not one per transcription.
        text = "supplementing" in _as_list(annotation.get("motivation"))
        corrected = _corrected_label(annotation)
        entries = []
        for label, confidence in _bodies(annotation):
            # A reviewer's correction is the category to learn; the model's label stays.
            truth = corrected or label
            name = TEXT_CATEGORY if text else truth
            category = self.categories.setdefault(name, len(self.categories) + 1)
            entries.append({"id": first_id + len(entries), "image_id": number,
                            "category_id": category, "bbox": list(box), "area": box.w * box.h,
                            "iscrowd": 0, "score": confidence, "w3c_id": annotation["id"],
                            "iiif_region_url": _iiif_url(image, _region(image, box)),
                            **({"utf8_string": truth} if text else {}),
                            **({"machine_label": label} if corrected else {})})
        return entries

    def write(self, items: Iterable[dict[str, Any]]) -> Iterator[str]:
        """The dataset as JSON text: info, images, annotations (streamed), categories."""
        info = {"description": self.manifest.label or self.manifest.id,
                "url": self.manifest.id,
                "date_created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        images = [self._image_entry(canvas_id, number, image)
                  for canvas_id, (number, image) in self.images.items()]
        yield f'{{"info": {json.dumps(info)}, "images": {json.dumps(images)}, "annotations": ['
        count = 0
        for annotation in items:
            entries = self._entries(annotation, count + 1)
            if entries:
                yield ("," if count else "") + ",".join(json.dumps(e) for e in entries)
                count += len(entries)
        categories = [{"id": number, "name": name, "supercategory": "annoserver"}
                      for name, number in self.categories.items()]
        yield f'], "categories": {json.dumps(categories)}}}\n'
