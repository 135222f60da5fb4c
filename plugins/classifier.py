"""Built-in ``classifier`` kind: whole-image labels, top-k above ``min_score``.

Output role ``logits`` ([N, C]); ``options.activation`` is ``softmax`` (default), ``sigmoid``
(multi-label) or ``none`` (the graph already gives probabilities).
"""

from __future__ import annotations

import numpy as np

from annoserver.inference import Label, Labels, ModelKind, hookimpl
from annoserver.inference.ops import activate


class Classifier(ModelKind):
    name = "classifier"
    outputs = ("logits",)

    @classmethod
    def check_config(cls, config):
        classes = config.outputs["logits"].shape[-1]
        if config.labels and classes is not None and classes != len(config.labels):
            return [f"labels: {len(config.labels)} labels for {classes} classes"]
        return []

    def postprocess(self, outputs, metas):
        scores = activate(outputs["logits"].reshape(len(metas), -1),
                          self.option("activation", "softmax"))
        top_k = int(self.threshold("top_k", 5))
        min_score = self.threshold("min_score", 0.0)
        results = []
        for row in scores:
            best = np.argsort(-row, kind="stable")[:top_k]
            results.append(Labels([Label(self.label(int(i)), float(row[i]))
                                   for i in best if row[i] >= min_score]))
        return results


@hookimpl
def register_model_kinds():
    return [Classifier]
