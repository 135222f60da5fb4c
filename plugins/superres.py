"""Built-in ``superres`` kind: an enhanced image per input image (role ``image``).

The output is [N, C, H, W] (or NHWC: ``options.layout``, default the input's layout) in
[0, ``options.output_range``] (default 1.0). Letterbox padding is cropped away; the result's
``scale`` is output pixels per input image pixel. Use ``resize = "longest-side"`` (or no
``size``) for graphs with variable height and width.
"""

from __future__ import annotations

import numpy as np

from annoserver.inference import ImageResult, ModelKind, hookimpl


class SuperResolution(ModelKind):
    name = "superres"
    outputs = ("image",)

    def _model_size(self, meta):
        size = self.config.input.size
        if size is not None and self.config.input.resize != "longest-side":
            return size
        return round(meta.height * meta.scale_y), round(meta.width * meta.scale_x)

    def postprocess(self, outputs, metas):
        images = outputs["image"]
        if self.option("layout", self.config.input.layout) == "NCHW":
            images = images.transpose(0, 2, 3, 1)
        peak = float(self.option("output_range", 1.0))
        return [self._one(image, meta, peak) for image, meta in zip(images, metas, strict=True)]

    def _one(self, image, meta, peak):
        pixels = np.clip(image.astype(np.float32) * (255.0 / peak), 0, 255).round()
        pixels = pixels.astype(np.uint8)
        if pixels.shape[2] == 1:
            pixels = np.repeat(pixels, 3, axis=2)
        elif self.config.input.color == "BGR":
            pixels = pixels[..., ::-1]
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
