"""What an ONNX file declares about its inputs and outputs, read without building a session.

The repository reads graphs in whatever process loads it (the gunicorn master included), so
this uses the ``onnx`` package, never ONNX Runtime: sessions are made only after fork.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import helper


@dataclass(frozen=True)
class TensorInfo:
    """One graph input or output: ``shape`` holds ``None`` for dynamic dimensions."""

    name: str
    shape: tuple[int | None, ...]
    dtype: np.dtype

    def describe(self) -> dict:
        """Return a JSON-ready view (dynamic dimensions as ``null``)."""
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype.name}


@dataclass(frozen=True)
class GraphInfo:
    """The real (non-initializer) inputs and the outputs of a model."""

    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]

    def output(self, name: str) -> TensorInfo | None:
        """Return the output called ``name``, or ``None``."""
        return next((o for o in self.outputs if o.name == name), None)

    def input(self, name: str) -> TensorInfo | None:
        """Return the input called ``name``, or ``None``."""
        return next((i for i in self.inputs if i.name == name), None)


def _tensor_info(value: onnx.ValueInfoProto) -> TensorInfo:
    tensor = value.type.tensor_type
    shape = tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                  for d in tensor.shape.dim)
    dtype = np.dtype(helper.tensor_dtype_to_np_dtype(tensor.elem_type))
    return TensorInfo(value.name, shape, dtype)


def read_graph(path: Path) -> GraphInfo:
    """Read the inputs and outputs of the ONNX model at ``path``.

    Raises:
        onnx.onnx_cpp2py_export.checker.ValidationError, google.protobuf.message.DecodeError,
        OSError: when the file is not a readable ONNX model.
    """
    model = onnx.load(str(path), load_external_data=False)
    # Old IR versions list weights among the inputs; they are not fed.
    weights = {init.name for init in model.graph.initializer}
    inputs = tuple(_tensor_info(v) for v in model.graph.input if v.name not in weights)
    return GraphInfo(inputs, tuple(_tensor_info(v) for v in model.graph.output))


def check_graph(path: Path) -> list[str]:
    """Run the ONNX checker on ``path``; return its complaints (empty when sound)."""
    try:
        onnx.checker.check_model(str(path))
    except Exception as error:  # the checker raises several unrelated types
        return [f"model.onnx fails the ONNX checker: {error}"]
    return []


def file_sha256(path: Path) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
