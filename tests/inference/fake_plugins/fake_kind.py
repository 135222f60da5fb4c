"""A third-party plugin as the plugin manager sees it: a module with a hookimpl."""

from annoserver.inference import ModelKind, Text, hookimpl


class Caption(ModelKind):
    name = "fake-caption"
    outputs = ("logits",)

    def postprocess(self, outputs, metas):
        return [Text(f"{len(row)} numbers", 1.0) for row in outputs["logits"]]


@hookimpl
def register_model_kinds():
    return [Caption]
