"""Built-in ``watermark`` kind: one score per image (role ``score``) → a label past a threshold.

The output is a logit ([N] or [N, 1], ``options.activation`` ``sigmoid`` by default, ``none``
for a probability) or two-class scores ([N, 2], softmax, index 1 = watermarked). The label
is the last line of the labels file (default ``watermark``); with two labels, images below
``thresholds.min_score`` (default 0.5) get the first one, scored 1 - p.
"""

from __future__ import annotations

from annoserver.inference import Label, Labels, ModelKind, hookimpl
from annoserver.inference.ops import activate


class Watermark(ModelKind):
    name = "watermark"
    outputs = ("score",)

    def postprocess(self, outputs, metas):
        raw = outputs["score"].reshape(len(metas), -1)
        if raw.shape[1] == 2:
            scores = activate(raw, "softmax")[:, 1]
        else:
            scores = activate(raw[:, 0], self.option("activation", "sigmoid"))
        labels = self.config.labels or ("watermark",)
        threshold = self.threshold("min_score", 0.5)
        results = []
        for p in scores.tolist():
            if p >= threshold:
                results.append(Labels([Label(labels[-1], p)]))
            elif len(labels) == 2:
                results.append(Labels([Label(labels[0], 1.0 - p)]))
            else:
                results.append(Labels([]))
        return results


@hookimpl
def register_model_kinds():
    return [Watermark]
