"""Built-in ``embedding`` kind: one L2-normalised vector per image (role ``embedding``).

``options.normalize = false`` keeps the graph's raw vector.
"""

from __future__ import annotations

from annoserver.inference import ModelKind, Vector, hookimpl
from annoserver.inference.ops import l2_normalize


class Embedding(ModelKind):
    name = "embedding"
    outputs = ("embedding",)

    def postprocess(self, outputs, metas):
        vectors = outputs["embedding"].reshape(len(metas), -1).astype("float32")
        if self.option("normalize", True):
            vectors = l2_normalize(vectors)
        return [Vector(v) for v in vectors]


@hookimpl
def register_model_kinds():
    return [Embedding]
