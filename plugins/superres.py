"""Built-in ``superres`` kind: an enhanced image per input image (role ``image``).

The output is [N, C, H, W] (or NHWC: ``options.layout``, default the input's layout) in
[0, ``options.output_range``] (default 1.0). Letterbox padding is cropped away; the result's
``scale`` is output pixels per input image pixel. Use ``resize = "longest-side"`` (or no
``size``) for graphs with variable height and width.

:meth:`SuperResolution.enhance` runs a graph of variable size at the image's own resolution
(no resizing to ``[input] size``): the IIIF super-resolution service feeds it tiles whose
pixels must keep their place.
"""

from __future__ import annotations

import numpy as np

from annoserver.inference import ImageResult, ModelKind, hookimpl
from annoserver.inference.preprocessing import check_image, to_tensor


class SuperResolution(ModelKind):
    name = "superres"
    outputs = ("image",)

    @property
    def scale(self) -> int:
        """Output pixels per input pixel (``[options] scale``, default 2)."""
        return int(self.option("scale", 2))

    @property
    def variable_size(self) -> bool:
        """Whether the graph takes any height and width (what :meth:`enhance` needs)."""
        spec = self.config.input
        return spec.size is None or spec.resize == "longest-side"

    def _model_size(self, meta):
        size = self.config.input.size
        if size is not None and self.config.input.resize != "longest-side":
            return size
        return round(meta.height * meta.scale_y), round(meta.width * meta.scale_x)

    def postprocess(self, outputs, metas):
        peak = float(self.option("output_range", 1.0))
        return [self._one(image, meta, peak)
                for image, meta in zip(self._nhwc(outputs["image"]), metas, strict=True)]

    def enhance(self, image: np.ndarray) -> np.ndarray:
        """Enhance one RGB ``uint8`` image at its own size; ``scale`` × larger RGB ``uint8``."""
        spec = self.config.input
        tensor = to_tensor([check_image(image)], spec.color, spec.mean, spec.std, spec.layout,
                           spec.dtype)
        output = self.session.run([self.roles["image"]], {spec.name: tensor})[0]
        return self._to_rgb(self._nhwc(output)[0], float(self.option("output_range", 1.0)))

    def _nhwc(self, images):
        if self.option("layout", self.config.input.layout) == "NCHW":
            return images.transpose(0, 2, 3, 1)
        return images

    def _to_rgb(self, image, peak):
        pixels = np.clip(image.astype(np.float32) * (255.0 / peak), 0, 255).round()
        pixels = pixels.astype(np.uint8)
        if pixels.shape[2] == 1:
            return np.repeat(pixels, 3, axis=2)
        if self.config.input.color == "BGR":
            return np.ascontiguousarray(pixels[..., ::-1])
        return pixels

    def _one(self, image, meta, peak):
        pixels = self._to_rgb(image, peak)
        in_h, in_w = self._model_size(meta)
        factor_x, factor_y = pixels.shape[1] / in_w, pixels.shape[0] / in_h
        x0, y0 = max(0.0, meta.offset_x) * factor_x, max(0.0, meta.offset_y) * factor_y
        x1 = min(in_w, meta.offset_x + meta.width * meta.scale_x) * factor_x
        y1 = min(in_h, meta.offset_y + meta.height * meta.scale_y) * factor_y
        crop = pixels[round(y0):round(y1), round(x0):round(x1)]
        return ImageResult(crop, scale=factor_x * meta.scale_x)


@hookimpl
def register_model_kinds():
    return [SuperResolution]
