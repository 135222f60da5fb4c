"""An Ultralytics YOLOv8 detection graph, re-plumbed for the built-in ``detector`` kind.

A YOLOv8 export ends in one tensor ``[1, 4 + C, A]``: per anchor point, the box centre, width
and height in model-input pixels, then C class scores (no objectness, no NMS in the graph).
The ``detector`` kind reads ``boxes`` ``[N, K, 4]`` and ``scores`` ``[N, K, C]``, so three
nodes are appended (a Transpose and two Slices) and nothing else changes: the weights, and
the export's own metadata (its license among them), stay as they were. Class names, input
size and stride are read from that metadata, never assumed.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from annoserver.packs.errors import PackError

BOXES, SCORES = "boxes", "scores"


@dataclass(frozen=True)
class YoloHead:
    """What the export's metadata and graph say about its detection head."""

    labels: tuple[str, ...]
    size: tuple[int, int]  # (height, width) of the input
    stride: int
    anchors: int
    output: str
    metadata: dict[str, str]


def _literal(metadata: dict[str, str], key: str) -> object:
    """A Python literal from the export's metadata (Ultralytics writes names, imgsz so)."""
    try:
        return ast.literal_eval(metadata[key])
    except (KeyError, ValueError, SyntaxError) as error:
        raise PackError(f"the ONNX metadata has no readable {key!r}: {error}") from error


def _labels(metadata: dict[str, str]) -> tuple[str, ...]:
    names = _literal(metadata, "names")
    if not isinstance(names, dict) or sorted(names) != list(range(len(names))):
        raise PackError(f"the ONNX metadata's names are not classes 0..C-1: {names!r}")
    return tuple(str(names[i]) for i in range(len(names)))


def _dims(value: onnx.ValueInfoProto) -> list[int]:
    return [d.dim_value for d in value.type.tensor_type.shape.dim]


def read_head(model: onnx.ModelProto) -> YoloHead:
    """Read and cross-check the head: metadata (task, names, imgsz, stride) against the graph.

    Raises:
        PackError: the file is not a plain YOLOv8 detection export.
    """
    metadata = {prop.key: prop.value for prop in model.metadata_props}
    if metadata.get("task") != "detect" or metadata.get("end2end", "False") != "False":
        raise PackError("not a YOLOv8 detection export without NMS (metadata task/end2end)")
    labels = _labels(metadata)
    imgsz = _literal(metadata, "imgsz")
    [image], [output] = model.graph.input, model.graph.output
    batch, channels, height, width = _dims(image)
    if [height, width] != list(imgsz) or (batch, channels) != (1, 3):
        raise PackError(f"input {_dims(image)} does not match imgsz {imgsz}")
    batch, features, anchors = _dims(output)
    if (batch, features) != (1, 4 + len(labels)):
        raise PackError(f"output {_dims(output)} is not [1, 4 + {len(labels)}, A]")
    return YoloHead(labels, (height, width), int(str(metadata.get("stride", "0"))), anchors,
                    output.name, metadata)


def _slice(name: str, source: str, start: int, end: int) -> list[onnx.NodeProto | onnx.TensorProto]:
    """A Slice of ``source`` along its last axis, with its constant inputs."""
    constants = [numpy_helper.from_array(np.array([value], np.int64), f"{name}_{key}")
                 for key, value in (("starts", start), ("ends", end), ("axes", 2))]
    node = helper.make_node("Slice", [source, *(c.name for c in constants)], [name], name=name)
    return [node, *constants]


def detector_graph(model: onnx.ModelProto, head: YoloHead) -> onnx.ModelProto:
    """A copy of ``model`` with the detector kind's outputs, checked by the ONNX checker.

    ``boxes`` is [1, A, 4] (cx, cy, w, h in input pixels), ``scores`` is [1, A, C].
    """
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    rows = f"{head.output}_rows"
    graph.node.append(helper.make_node("Transpose", [head.output], [rows], perm=[0, 2, 1],
                                       name=rows))
    for name, start, end in ((BOXES, 0, 4), (SCORES, 4, 4 + len(head.labels))):
        node, *constants = _slice(name, rows, start, end)
        graph.node.append(node)
        graph.initializer.extend(constants)
    del graph.output[:]
    graph.output.extend([
        helper.make_tensor_value_info(BOXES, onnx.TensorProto.FLOAT, [1, head.anchors, 4]),
        helper.make_tensor_value_info(SCORES, onnx.TensorProto.FLOAT,
                                      [1, head.anchors, len(head.labels)])])
    try:
        onnx.checker.check_model(out, full_check=True)
    except onnx.checker.ValidationError as error:
        raise PackError(f"the re-plumbed graph fails the ONNX checker: {error}") from error
    return out
