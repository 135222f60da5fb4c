"""A sample's pixels: read from disk, or fetched through the project's guarded IIIF client.

Remote samples go through the same :class:`~annoserver.iiif.IIIFSession` as the server (SSRF
guard, retries, byte and pixel caps, per-host politeness) and are fetched at the size the
backbone takes, exactly as ``/analyze`` fetches them, so a model sees at serving time what it
saw in training. Canvas regions are placed through their manifest (read once per manifest).
"""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np

from annoserver.iiif import (
    IIIFSession,
    Target,
    decode_image,
    fetch_json,
    fetch_region,
    load_service,
)
from annoserver.jobs.intake import analysed_image
from annoserver.presentation import (
    Canvas,
    CanvasImage,
    OutsideImage,
    canvas_to_image,
    parse_xywh,
    read_manifest,
)
from annoserver.training.errors import SampleError
from annoserver.training.sources import CanvasRegion, FileImage, ImageRegion, Sample


class PixelSource:
    """Turns samples into RGB ``uint8`` images, through one IIIF session, at ``target``."""

    def __init__(self, session: IIIFSession, target: Target) -> None:
        self.session = session
        self.target = target
        self._lock = threading.Lock()
        self._canvases: dict[str, dict[str, Canvas]] = {}

    def pixels(self, sample: Sample) -> np.ndarray:
        """The pixels of ``sample``.

        Raises:
            SampleError, IIIFError, PresentationError, OSError: it cannot be had.
        """
        location = sample.location
        if isinstance(location, FileImage):
            return self._file(location)
        if isinstance(location, ImageRegion):
            return self._region(location.service, location.region)
        return self._canvas_region(location)

    def _file(self, location: FileImage) -> np.ndarray:
        size = location.path.stat().st_size
        if size > self.session.limits.max_bytes:
            raise SampleError(f"{location.path}: {size} bytes, over the "
                              f"{self.session.limits.max_bytes}-byte cap")
        return decode_image(location.path.read_bytes(), self.session.limits.max_pixels)

    def _region(self, service: str, region: str) -> np.ndarray:
        return fetch_region(service, region, self.target, session=self.session).pixels

    def _canvas(self, manifest: str, canvas_id: str) -> Canvas:
        with self._lock:
            canvases = self._canvases.get(manifest)
        if canvases is None:
            document = fetch_json(manifest, session=self.session)
            canvases = {c.id: c for c in read_manifest(document).canvases}
            with self._lock:
                self._canvases[manifest] = canvases
        if canvas_id not in canvases:
            raise SampleError(f"{canvas_id} is not a canvas of the manifest {manifest}")
        return canvases[canvas_id]

    def _canvas_region(self, location: CanvasRegion) -> np.ndarray:
        canvas = self._canvas(location.manifest, location.canvas)
        image = analysed_image(canvas)
        if image is None or not image.service_id:
            raise SampleError(f"canvas {canvas.id} paints no image with a IIIF image service")
        if image.rotation or image.mirrored:
            raise SampleError(f"canvas {canvas.id} paints its image rotated or mirrored")
        image = self._sized(image)
        box = (parse_xywh(f"xywh={location.xywh}", canvas.width, canvas.height)
               if location.xywh else None) or image.region_on_canvas
        try:
            pixel_box = canvas_to_image(box, image)
        except OutsideImage as error:
            raise SampleError(f"{canvas.id}#xywh={location.xywh}: {error.detail}") from error
        return self._region(image.service_id, ",".join(str(v) for v in pixel_box))

    def _sized(self, image: CanvasImage) -> CanvasImage:
        """``image`` with its pixel size from ``info.json`` when the manifest leaves it out."""
        if image.width and image.height:
            return image
        service = load_service(image.service_id, session=self.session)
        return replace(image, width=service.width, height=service.height)
