"""Training data sources: what to learn from, as labelled samples whose pixels come later.

Three shapes are read, all into :class:`Sample` lists (nothing is fetched here, so a split can
be drawn before any download):

- a **folder per class**: ``DATA/<label>/*.jpg|png|...``;
- a **CSV of IIIF URLs**: ``url,label`` rows, the URL an Image API request
  (``.../x,y,w,h/max/0/default.jpg``, quoted or not), an ``info.json`` or a service id (the
  whole image);
- an **export of reviewed annotations** (``GET /export`` as JSON Lines or CSV): only
  annotations a person *accepted* or *corrected* are kept, a correction's label winning, so
  reviewed machine annotations become the training data of the next model.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The export's own readers of annotation shapes: what it wrote is read back the same way.
from annoserver.store.export import (
    CSV_COLUMNS,
    FORMULA_STARTS,
    _bodies,
    _corrected_label,
    _placement,
)
from annoserver.store.fields import index_fields
from annoserver.training.errors import TrainingError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"})
TRAINING_VERDICTS = frozenset({"accepted", "corrected"})
# {service}/{region}/{size}/{rotation}/{quality}.{format}, as Image API 2 and 3 spell it.
IMAGE_REQUEST = re.compile(r"^(?P<service>https?://.+?)/(?P<region>full|square|pct:[^/]+|"
                           r"[0-9.]+,[0-9.]+,[0-9.]+,[0-9.]+)/(?P<size>[^/]+)/"
                           r"(?P<rotation>!?[0-9.]+)/(?P<quality>[a-z]+)\.[a-z0-9]+$")


@dataclass(frozen=True)
class FileImage:
    """An image file on disk."""

    path: Path


@dataclass(frozen=True)
class ImageRegion:
    """A region (IIIF region syntax) of a IIIF image service."""

    service: str
    region: str = "full"


@dataclass(frozen=True)
class CanvasRegion:
    """An ``xywh`` box (canvas units; None: all of it) of a canvas of a manifest."""

    manifest: str
    canvas: str
    xywh: str | None = None


Location = FileImage | ImageRegion | CanvasRegion


@dataclass(frozen=True)
class Sample:
    """One labelled example; ``ref`` names it in messages and on the model card."""

    label: str
    location: Location
    ref: str


@dataclass(frozen=True)
class DataSource:
    """The samples of one ``--data`` argument, and what was left out of it (reason → count)."""

    kind: str
    path: Path
    samples: tuple[Sample, ...]
    left_out: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Samples per label, labels sorted."""
        return dict(sorted(Counter(s.label for s in self.samples).items()))


def read_source(path: str | Path) -> DataSource:
    """Read a folder per class, a CSV of IIIF URLs, or an ``/export`` (jsonl or csv).

    Raises:
        TrainingError: the path is none of these, or holds no usable sample.
    """
    path = Path(path)
    if path.is_dir():
        source = _folder(path)
    elif path.suffix.lower() in (".jsonl", ".ndjson"):
        source = _export_jsonl(path)
    elif path.suffix.lower() == ".csv":
        source = _csv(path)
    else:
        raise TrainingError(f"--data {str(path)!r} is neither a folder of class folders nor a "
                            ".csv / .jsonl file")
    if not source.samples:
        raise TrainingError(f"{str(path)!r} holds no usable training sample"
                            + (f" (left out: {_reasons(source.left_out)})"
                               if source.left_out else ""))
    return source


def _reasons(left_out: dict[str, int]) -> str:
    return ", ".join(f"{count} {reason}" for reason, count in left_out.items())


def _label(text: str, where: str) -> str:
    label = text.strip()
    if not label or "\n" in label or "\r" in label:
        raise TrainingError(f"{where}: a label is one non-empty line, not {text!r}")
    return label


def _folder(path: Path) -> DataSource:
    """``path/<label>/<image>``: the folder name is the label (hidden entries ignored)."""
    samples = []
    for folder in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        label = _label(folder.name, str(folder))
        samples += [Sample(label, FileImage(file), str(file.relative_to(path)))
                    for file in sorted(folder.iterdir())
                    if file.is_file() and file.suffix.lower() in IMAGE_SUFFIXES]
    return DataSource("folder per class", path, tuple(samples))


def image_region(url: str) -> ImageRegion:
    """Where an Image API request, ``info.json`` URL or service id points.

    Size, rotation and quality are not kept: pixels are fetched at the size the backbone
    takes, as the server does when it analyses a region. Rotated requests are refused
    (served images are analysed unrotated).
    """
    url = url.strip()
    if url.endswith("/info.json"):
        return ImageRegion(url.removesuffix("/info.json"))
    match = IMAGE_REQUEST.match(url)
    if match is None:
        return ImageRegion(url.rstrip("/"))
    if match["rotation"] not in ("0", "0.0"):
        raise TrainingError(f"{url}: rotated requests are not training data (rotation "
                            f"{match['rotation']}); use rotation 0")
    return ImageRegion(match["service"], match["region"])


def _csv(path: Path) -> DataSource:
    with path.open(newline="", encoding="utf-8-sig") as stream:
        rows = [row for row in csv.reader(stream) if any(cell.strip() for cell in row)]
    if rows and tuple(rows[0]) == CSV_COLUMNS:
        return _export_csv(path, rows[1:])
    if rows and not rows[0][0].strip().lower().startswith(("http://", "https://")):
        rows = rows[1:]  # a header such as "url,label"
    samples = []
    for number, row in enumerate(rows, start=2):
        if len(row) < 2:
            raise TrainingError(f"{path}:{number}: expected 'url,label', got {row!r}")
        # Region URLs hold commas (x,y,w,h): unquoted, they split; the label is the last cell.
        url, label = ",".join(row[:-1]).strip(), _label(row[-1], f"{path}:{number}")
        samples.append(Sample(label, image_region(url), url))
    return DataSource("CSV of IIIF image URLs", path, tuple(samples))


def _plain(cell: str) -> str:
    """A cell as it was before the export neutralised a leading formula character."""
    return cell[1:] if cell.startswith("'") and cell[1:2] in FORMULA_STARTS else cell


UNLABELLED = "annotation(s) without a label or target"


def _not_training(verdict: str | None) -> str | None:
    """Why an annotation with this latest verdict is left out; None when it is training data."""
    return None if verdict in TRAINING_VERDICTS else f"{verdict or 'unreviewed'} annotation(s)"


def _reviewed_label(verdict: str | None, corrected: str | None, label: str | None) -> str:
    """The reviewer's correction when the verdict says so, else the accepted model label."""
    return (corrected if verdict == "corrected" else None) or label or ""


def _export_csv(path: Path, rows: list[list[str]]) -> DataSource:
    """An ``/export?format=csv`` file: one row per annotation × body; the first body counts."""
    left_out: Counter[str] = Counter()
    samples, seen = [], set()
    for row in rows:
        cells = dict(zip(CSV_COLUMNS, map(_plain, row), strict=False))
        if cells["annotation"] in seen:
            continue
        seen.add(cells["annotation"])
        verdict = cells.get("review") or None
        reason = _not_training(verdict)
        if reason:
            left_out[reason] += 1
            continue
        label = _reviewed_label(verdict, cells.get("corrected_label"), cells.get("label"))
        if not label.strip() or not cells.get("canvas"):
            left_out[UNLABELLED] += 1
            continue
        location = CanvasRegion(cells["manifest"], cells["canvas"], cells.get("xywh") or None)
        samples.append(Sample(_label(label, cells["annotation"]), location, cells["annotation"]))
    return DataSource("export of reviewed annotations (CSV)", path, tuple(samples),
                      dict(left_out))


def reviewed_sample(annotation: dict[str, Any]) -> Sample | str:
    """The training sample of one exported annotation, or why it is left out.

    The label is the reviewer's correction when there is one, else what the model said and
    the reviewer accepted.
    """
    review = annotation.get("review")
    verdict = review.get("verdict") if isinstance(review, dict) else None
    reason = _not_training(verdict)
    if reason:
        return reason
    label = _reviewed_label(verdict, _corrected_label(annotation), _bodies(annotation)[0][0])
    placed, targets = _placement(annotation), index_fields(annotation).targets
    if not label.strip() or placed is None or not targets:
        return UNLABELLED
    manifest = targets[0][1]
    ref = str(annotation.get("id") or placed.canvas)
    # Annotations of a manifest's canvases are placed through the manifest; one made on an
    # image itself (``/analyze`` without a canvas) has its region in the image's pixels.
    location: Location = (CanvasRegion(manifest, placed.canvas, placed.xywh) if manifest
                          else ImageRegion(placed.canvas, placed.xywh or "full"))
    return Sample(_label(label, ref), location, ref)


def _export_jsonl(path: Path) -> DataSource:
    """An ``/export?format=jsonl`` file: one W3C annotation per line."""
    left_out: Counter[str] = Counter()
    samples = []
    with path.open(encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                annotation = json.loads(line)
            except json.JSONDecodeError as error:
                raise TrainingError(f"{path}:{number}: not JSON ({error})") from error
            found = reviewed_sample(annotation) if isinstance(annotation, dict) \
                else "line(s) that are not annotations"
            if isinstance(found, str):
                left_out[found] += 1
            else:
                samples.append(found)
    return DataSource("export of reviewed annotations (JSON Lines)", path, tuple(samples),
                      dict(left_out))
