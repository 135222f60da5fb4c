"""The trained head (Gemm → Softmax) as ONNX: fused onto its backbone, or on its own.

:func:`fuse` makes one graph: the backbone's graph is edited, not re-exported: every output
but the embedding is dropped with the nodes and weights only they needed (EfficientNet-Lite0's
ImageNet classifier), and the head is appended. The graph gives ``probabilities`` (what the
server reads, as the ``classifier`` kind's ``logits`` role with activation ``none``),
``logits`` and the ``embedding`` (so the model also serves ``/similar``). One file: the server
loads nothing else.

:func:`head_only` makes the head alone, fed the backbone's embedding: a few kilobytes that the
server runs on the backbone it shares with every other head (``backbone`` in model.toml).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from annoserver.training.errors import TrainingError
from annoserver.training.head import Head

PROBABILITIES = "probabilities"
LOGITS = "logits"
HEAD_PREFIX = "trained_head/"


def _subgraph_names(node: onnx.NodeProto) -> Iterator[str]:
    """Names a node's subgraphs (If/Loop bodies) read from the enclosing graph."""
    for attribute in node.attribute:
        graphs = list(attribute.graphs) + ([attribute.g] if attribute.HasField("g") else [])
        for graph in graphs:
            for inner in graph.node:
                yield from inner.input
                yield from _subgraph_names(inner)


def _keep_only(graph: onnx.GraphProto, output: str) -> None:
    """Drop every output but ``output``, and the nodes and initializers nothing else needs."""
    kept_output = [o for o in graph.output if o.name == output]
    del graph.output[:]
    graph.output.extend(kept_output)
    needed, nodes = {output}, []
    for node in reversed(graph.node):
        if needed.intersection(node.output):
            nodes.append(node)
            needed.update(name for name in node.input if name)
            needed.update(_subgraph_names(node))
    kept_nodes = list(reversed(nodes))
    del graph.node[:]
    graph.node.extend(kept_nodes)
    for field in (graph.initializer, graph.value_info):
        kept = [item for item in field if item.name in needed]
        del field[:]
        field.extend(kept)


def _head_nodes(embedding: str, head: Head) -> tuple[list[onnx.NodeProto],
                                                     list[onnx.TensorProto]]:
    weight, bias = HEAD_PREFIX + "weight", HEAD_PREFIX + "bias"
    initializers = [numpy_helper.from_array(np.ascontiguousarray(head.weight, np.float32),
                                            weight),
                    numpy_helper.from_array(np.ascontiguousarray(head.bias, np.float32), bias)]
    nodes = [helper.make_node("Gemm", [embedding, weight, bias], [LOGITS], name=HEAD_PREFIX
                              + "gemm", transB=1),
             # axis 1 on a 2-d input means the same in every opset (the meaning changed in 13).
             helper.make_node("Softmax", [LOGITS], [PROBABILITIES], name=HEAD_PREFIX
                              + "softmax", axis=1)]
    return nodes, initializers


def _finish(model: onnx.ModelProto, metadata: Mapping[str, str], what: str
            ) -> onnx.ModelProto:
    del model.metadata_props[:]
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as error:  # the checker raises several unrelated types
        raise TrainingError(f"the {what} fails the ONNX checker: {error}") from error
    return model


def _outputs(batch_dim: str | int, classes: int) -> list[onnx.ValueInfoProto]:
    return [helper.make_tensor_value_info(name, TensorProto.FLOAT, [batch_dim, classes])
            for name in (PROBABILITIES, LOGITS)]


def head_only(embedding: str, dimension: int, head: Head, metadata: Mapping[str, str],
              like: Path) -> onnx.ModelProto:
    """The head alone: input ``embedding`` float32 [N, dimension].

    The same outputs as :func:`fuse` but the embedding; the opset and IR version are those of
    the backbone at ``like``.

    Raises:
        TrainingError: the result fails the ONNX checker.
    """
    backbone = onnx.load(str(like), load_external_data=False)
    nodes, initializers = _head_nodes(embedding, head)
    graph = helper.make_graph(
        nodes, "trained_head",
        [helper.make_tensor_value_info(embedding, TensorProto.FLOAT, ["N", dimension])],
        _outputs("N", head.weight.shape[0]), initializers)
    model = helper.make_model(graph, opset_imports=list(backbone.opset_import),
                              ir_version=backbone.ir_version)
    return _finish(model, metadata, "head graph")


def fuse(backbone: Path, embedding: str, head: Head, metadata: Mapping[str, str]
         ) -> onnx.ModelProto:
    """The backbone graph at ``backbone`` with ``head`` on its ``embedding`` output.

    Raises:
        TrainingError: the output names clash, or the result fails the ONNX checker.
    """
    model = onnx.load(str(backbone))
    graph = model.graph
    if embedding in (LOGITS, PROBABILITIES):
        raise TrainingError(f"the backbone's embedding output is called {embedding!r}, a name "
                            "the head's outputs need")
    [embedding_info] = [o for o in graph.output if o.name == embedding]
    _keep_only(graph, embedding)
    taken = {n for node in graph.node for n in node.output} | {i.name for i in graph.initializer}
    if taken & {LOGITS, PROBABILITIES, HEAD_PREFIX + "weight", HEAD_PREFIX + "bias"}:
        raise TrainingError("the backbone graph already uses the names the head needs")
    nodes, initializers = _head_nodes(embedding, head)
    graph.node.extend(nodes)
    graph.initializer.extend(initializers)
    batch = embedding_info.type.tensor_type.shape.dim[0]
    batch_dim = batch.dim_param or (batch.dim_value if batch.dim_value > 0 else "N")
    del graph.output[:]
    graph.output.extend([*_outputs(batch_dim, head.weight.shape[0]), embedding_info])
    graph.name = f"{graph.name or 'backbone'}+trained_head"
    return _finish(model, metadata, "fused graph")
