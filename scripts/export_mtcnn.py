#!/usr/bin/env python3
"""Export the MTCNN face detector (P-, R- and O-Net) from facenet-pytorch to three ONNX graphs.

Face DETECTION only: the recognition network facenet-pytorch also carries
(InceptionResnetV1) is never imported, exported or shipped.

Reproduce: ``make models``, or only this model in the model-building virtualenv (never
install torchvision there; pip takes the CPU torch wheel already on disk):

    make .venv-models/.installed   # also installs facenet-pytorch 2.6.0 without its deps
    .venv-models/bin/python scripts/export_mtcnn.py
    .venv-models/bin/python scripts/eval_mtcnn.py --write

With torch 2.13.0, onnx 1.23.2, onnxscript 0.7.2 the three files are byte-for-byte
reproducible (sha256s in model.toml; eval.json records every version used).

(pip warns that facenet-pytorch 2.6.0 asks for torch<2.3, numpy<2 and torchvision: it
is installed without its dependencies and only its three MTCNN state dicts and its
``mtcnn.py`` / ``detect_face.py`` code are used, which run on these versions.)

Sources: the state dicts ``facenet_pytorch/data/{pnet,rnet,onet}.pt`` inside the PyPI
wheel facenet-pytorch 2.6.0 (MIT, Tim Esler; ported from David Sandberg's TensorFlow
facenet, whose MTCNN weights come from Kaipeng Zhang's original Caffe release, which
states no license of its own). The network classes are facenet-pytorch's own
(``models/mtcnn.py``), loaded by file path: the package's ``__init__`` imports the
recognition model and torchvision. ``detect_face.py`` (facenet-pytorch's cascade) needs
two torchvision names; a stand-in module gives them (``batched_nms`` written in torch
with torchvision's semantics) so the upstream cascade runs here as the reference.

Checks: every graph against torch on random and real inputs (max |diff| printed and
stored in eval.json), then the whole cascade on sample images three ways: the
annoserver ``faces`` plugin on the ONNX graphs, the same plugin code on the torch
networks, and facenet-pytorch's own ``detect_face`` (torch).

Writes ``onnx_models/mtcnn-faces/``: model.onnx (P-Net), rnet.onnx, onet.onnx,
labels.txt, the fixture images astronaut.jpg and coffee.jpg, eval.json (the ``export``
section) and model.toml (keeping the [quality] table eval_mtcnn.py writes).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import json
import os
import re
import sys
import types
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO), str(HERE)]

from model_build import package_dir, sha256_file  # noqa: E402

OUT_DIR = REPO / "onnx_models" / "mtcnn-faces"
OPSET = 17
IR_VERSION = 9  # onnxruntime 1.17 loads IR <= 9
PACKAGE, PACKAGE_VERSION = "facenet-pytorch", "2.6.0"
# sha256 of the state dicts in the facenet-pytorch 2.6.0 wheel
WEIGHTS_SHA256 = {
    "pnet": "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f",
    "rnet": "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86",
    "onet": "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d",
}
NETS = {  # role: (class, output names, crop side or None for any size)
    "pnet": ("PNet", ("offsets", "scores"), None),
    "rnet": ("RNet", ("offsets", "scores"), 24),
    "onet": ("ONet", ("offsets", "landmarks", "scores"), 48),
}
FILES = {"pnet": "model.onnx", "rnet": "rnet.onnx", "onet": "onet.onnx"}
ALLOWED_OPS = {"Conv", "PRelu", "MaxPool", "Softmax", "Transpose", "Reshape", "Gemm"}
DESCRIPTION = (
    "MTCNN face detector (P-, R- and O-Net cascade): where the faces of a photograph are, "
    "as 'face' boxes with a confidence. Detection only: it never says whose face it is."
)
FIXTURES = {"astronaut": "astronaut.jpg", "coffee": "coffee.jpg"}


def facenet_dir() -> Path:
    return package_dir("facenet_pytorch", "pip install --no-deps facenet-pytorch==2.6.0")


def _batched_nms(boxes, scores, idxs, iou_threshold):
    """torchvision.ops.batched_nms: greedy IoU suppression per index, best first."""
    import torch

    order = torch.argsort(scores, descending=True)
    boxes, idxs = boxes[order].double(), idxs[order]
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    alive = torch.ones(len(order), dtype=torch.bool)
    kept = []
    for i in range(len(order)):
        if not alive[i]:
            continue
        kept.append(i)
        lt = torch.maximum(boxes[i, :2], boxes[:, :2])
        rb = torch.minimum(boxes[i, 2:], boxes[:, 2:])
        inter = (rb - lt).clamp(min=0).prod(dim=1)
        overlap = inter / (areas[i] + areas - inter)
        alive &= ~((overlap > iou_threshold) & (idxs == idxs[i]))
    return order[torch.as_tensor(kept, dtype=torch.long)]


def load_upstream() -> tuple[types.ModuleType, types.ModuleType]:
    """facenet-pytorch's ``mtcnn`` and ``detect_face`` modules, without its ``__init__``."""
    stubs = ["torchvision", "torchvision.transforms", "torchvision.transforms.functional",
             "torchvision.ops", "torchvision.ops.boxes"]
    for name in stubs:
        sys.modules[name] = types.ModuleType(name)
    sys.modules["torchvision.ops.boxes"].batched_nms = _batched_nms
    root = facenet_dir() / "models"
    for name, path in {"_facenet_mtcnn": root, "_facenet_mtcnn.utils": root / "utils"}.items():
        package = types.ModuleType(name)
        package.__path__ = [str(path)]
        sys.modules[name] = package
    try:
        mtcnn = importlib.import_module("_facenet_mtcnn.mtcnn")
        detect_face = importlib.import_module("_facenet_mtcnn.utils.detect_face")
    finally:
        for name in stubs:  # the ONNX exporter probes for a real torchvision
            del sys.modules[name]
    return mtcnn, detect_face


def load_nets(mtcnn: types.ModuleType) -> dict:
    """The three networks with the wheel's weights, after checking the files' sha256."""
    data = facenet_dir() / "data"
    nets = {}
    for role, (cls, _, _) in NETS.items():
        digest = sha256_file(data / f"{role}.pt")
        print(f"weights {role}.pt: sha256 {digest}")
        if digest != WEIGHTS_SHA256[role]:
            raise SystemExit(f"unexpected {role}.pt (not facenet-pytorch 2.6.0's): {digest}")
        nets[role] = getattr(mtcnn, cls)(pretrained=True).eval()
    return nets


def clean(proto, role: str) -> None:
    """Opset 17 / IR 9, simple dimension names, no exporter metadata (reproducible bytes)."""
    ops = {n.op_type for n in proto.graph.node}
    assert ops <= ALLOWED_OPS, f"unexpected ops {ops - ALLOWED_OPS}"
    # None of these ops changed between opset 17 and 18, so only the import is lowered.
    for op in proto.opset_import:
        if op.domain in ("", "ai.onnx"):
            op.version = OPSET
    for node in proto.graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
    for coll in (proto.graph.input, proto.graph.output, proto.graph.value_info,
                 proto.graph.initializer):
        for item in coll:
            del item.metadata_props[:]
    del proto.graph.metadata_props[:]
    del proto.graph.value_info[:]
    if role == "pnet":  # the exporter names P-Net's output sides after formulas
        for output in proto.graph.output:
            dims = output.type.tensor_type.shape.dim
            dims[2].dim_param, dims[3].dim_param = "h", "w"
    proto.ir_version = min(proto.ir_version, IR_VERSION)
    proto.producer_name = "annoserver scripts/export_mtcnn.py"
    proto.producer_version = "1"
    side = NETS[role][2]
    proto.doc_string = (
        f"MTCNN {role} (face detection). Input 'image': float32 [N,3,"
        + (f"{side},{side}" if side else "H,W")
        + "] RGB, (x - 127.5) / 128. Weights: PyPI facenet-pytorch 2.6.0 (MIT)."
    )
    del proto.metadata_props[:]
    for key, value in {"license": "MIT (facenet-pytorch); original MTCNN weights unlicensed",
                       "source": f"{PACKAGE}=={PACKAGE_VERSION} data/{role}.pt",
                       "use": "face detection only, never identification"}.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value


def export(net, role: str, path: Path) -> None:
    import onnx
    import torch

    side = NETS[role][2]
    shape = (2, 3, 64, 48) if side is None else (2, 3, side, side)
    dummy = torch.rand(*shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    dims = {0: torch.export.Dim("N")}
    if side is None:
        dims.update({2: torch.export.Dim("H", min=12), 3: torch.export.Dim("W", min=12)})
    program = torch.onnx.export(net, (dummy,), dynamo=True, input_names=["image"],
                                output_names=list(NETS[role][1]), dynamic_shapes=(dims,),
                                opset_version=18, optimize=True, verbose=False)
    proto = program.model_proto
    clean(proto, role)
    onnx.checker.check_model(proto, full_check=True)
    path.write_bytes(proto.SerializeToString())


def describe(path: Path) -> str:
    import onnx

    model = onnx.load(str(path))
    shapes = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(model.graph.input) + list(model.graph.output)}
    ops = sorted({n.op_type for n in model.graph.node})
    return f"ir {model.ir_version}, {len(model.graph.node)} nodes ({', '.join(ops)}), {shapes}"


def net_inputs(role: str, images: list[np.ndarray]) -> list[np.ndarray]:
    """Random batches and real normalised crops / pyramid levels for one network."""
    import cv2

    rng = np.random.default_rng(0)
    side = NETS[role][2]
    real = [(im.astype(np.float32) - 127.5) / 128 for im in images]
    if side is None:
        batches = [rng.uniform(-1, 1, (1, 3, h, w)).astype(np.float32)
                   for h, w in ((12, 12), (13, 17), (37, 53), (120, 90), (307, 411))]
        for im in real:
            for scale in (0.6, 0.3, 0.1):
                level = cv2.resize(im, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                batches.append(level.transpose(2, 0, 1)[None].copy())
        return batches
    crops = []
    for im in real:
        for _ in range(16):
            s = int(rng.integers(20, min(im.shape[:2])))
            y, x = (int(rng.integers(0, n - s + 1)) for n in im.shape[:2])
            patch = cv2.resize(im[y:y + s, x:x + s], (side, side), interpolation=cv2.INTER_AREA)
            crops.append(patch.transpose(2, 0, 1))
    return [rng.uniform(-1, 1, (7, 3, side, side)).astype(np.float32), np.stack(crops)]


def compare_nets(nets: dict, images: list[np.ndarray]) -> dict:
    """Max |torch - onnxruntime| per network and output."""
    import onnxruntime as ort
    import torch

    diffs = {}
    for role, net in nets.items():
        session = ort.InferenceSession(str(OUT_DIR / FILES[role]),
                                       providers=["CPUExecutionProvider"])
        names = NETS[role][1]
        worst = dict.fromkeys(names, 0.0)
        for batch in net_inputs(role, images):
            with torch.no_grad():
                expected = [t.numpy() for t in net(torch.from_numpy(batch))]
            got = session.run(list(names), {"image": batch})
            for name, e, g in zip(names, expected, got, strict=True):
                assert e.shape == g.shape, (role, name, e.shape, g.shape)
                worst[name] = max(worst[name], float(np.abs(e - g).max()))
        diffs[role] = worst
        print(f"{role}: torch vs onnxruntime max |diff| "
              + ", ".join(f"{k}={v:.2e}" for k, v in worst.items()))
        assert max(worst.values()) < 1e-4, worst
    return diffs


def load_plugin():
    spec = importlib.util.spec_from_file_location("faces_plugin", REPO / "plugins" / "faces.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def cascades(nets: dict, detect_face: types.ModuleType, samples: dict[str, np.ndarray]) -> dict:
    """The cascade on each sample: plugin + ONNX, plugin + torch, facenet-pytorch (torch)."""
    import onnxruntime as ort
    import torch

    plugin = load_plugin()
    params = plugin.CascadeParams()
    pad = (np.zeros(3, np.float32) - 127.5) / 128
    sessions = {role: ort.InferenceSession(str(OUT_DIR / FILES[role]),
                                           providers=["CPUExecutionProvider"])
                for role in NETS}

    def onnx_net(role):
        return lambda x: tuple(sessions[role].run(["offsets", "scores"], {"image": x}))

    def torch_net(role):
        def run(x):
            with torch.no_grad():
                out = [t.numpy() for t in nets[role](torch.from_numpy(x))]
            return out[0], out[-1]
        return run

    report = {}
    for name, rgb in samples.items():
        norm = (rgb.astype(np.float32) - 127.5) / 128
        with_onnx = plugin.detect_faces(norm, *(onnx_net(r) for r in NETS), params, pad)
        with_torch = plugin.detect_faces(norm, *(torch_net(r) for r in NETS), params, pad)
        with torch.no_grad():
            upstream, _ = detect_face.detect_face(rgb.copy(), params.min_face, nets["pnet"],
                                                  nets["rnet"], nets["onet"],
                                                  [params.pnet, params.rnet, params.onet],
                                                  params.scale_factor, "cpu")
        upstream = np.asarray(upstream[0] if upstream[0] is not None else [],
                              np.float64).reshape(-1, 5)
        entry = {"onnx": len(with_onnx), "torch": len(with_torch), "upstream": len(upstream)}
        if len(with_onnx) == len(with_torch):
            entry["max_abs_box_diff_px"] = float(np.abs(with_onnx - with_torch)[:, :4].max(
                initial=0))
            entry["max_abs_score_diff"] = float(np.abs(with_onnx - with_torch)[:, 4].max(
                initial=0))
        entry["vs_upstream_best_iou"] = [round(best_iou(box, upstream), 4) for box in with_onnx]
        report[name] = entry
        print(f"cascade {name}: {entry}")
    return report


def best_iou(box: np.ndarray, others: np.ndarray) -> float:
    if not len(others):
        return 0.0
    lt = np.maximum(box[:2], others[:, :2])
    rb = np.minimum(box[2:4], others[:, 2:4])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
    area = np.prod(box[2:4] - box[:2])
    areas = np.prod(others[:, 2:4] - others[:, :2], axis=1)
    return float((inter / (area + areas - inter)).max())


def save_fixtures(samples: dict[str, np.ndarray]) -> None:
    import cv2

    for name, file in FIXTURES.items():
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(samples[name], cv2.COLOR_RGB2BGR),
                                [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        (OUT_DIR / file).write_bytes(data.tobytes())
        print(f"wrote {file} ({samples[name].shape[1]}x{samples[name].shape[0]}, "
              f"{len(data)} bytes)")


def existing_quality(toml_path: Path) -> str:
    if not toml_path.exists():
        return ""
    match = re.search(r"^\[quality\]\n.*?(?=^\[|\Z)", toml_path.read_text(), flags=re.S | re.M)
    return match.group(0).rstrip() + "\n" if match else ""


def write_toml(shas: dict[str, str]) -> None:
    toml_path = OUT_DIR / "model.toml"
    quality = existing_quality(toml_path)
    version = importlib.metadata.version(PACKAGE)
    source = (f"PyPI {PACKAGE}=={version} (state dicts data/pnet.pt, rnet.pt, onet.pt; "
              "MTCNN by Zhang et al. 2016), exported by scripts/export_mtcnn.py")
    text = f'''kind = "faces"
version = "1.0.0"
description = "{DESCRIPTION}"
license = "MIT"
source = "{source}"
sha256 = "{shas['pnet']}"
labels = "labels.txt"

# The image is searched at up to 1024 px on its longest side; faces under options.min_face
# pixels at that size are not looked for. MTCNN's normalisation: (x - 127.5) / 128.
[input]
size = [1024, 1024]
resize = "longest-side"
color = "RGB"
mean = [0.5, 0.5, 0.5]
std = [0.50196078, 0.50196078, 0.50196078]

[output]
offsets = "offsets"
scores = "scores"

[files.rnet]
file = "rnet.onnx"
sha256 = "{shas['rnet']}"

[files.onet]
file = "onet.onnx"
sha256 = "{shas['onet']}"

# facenet-pytorch's defaults: P-Net 0.6, R-Net 0.7, O-Net 0.7 (the score reported).
[thresholds]
pnet = 0.6
rnet = 0.7
min_score = 0.7
top_k = 100

[options]
min_face = 20
scale_factor = 0.709
label = "face"
'''
    if quality:
        text += "\n" + quality
    toml_path.write_text(text)
    print(f"wrote model.toml{' (kept [quality])' if quality else ''}")


def write_report(shas: dict[str, str], diffs: dict, cascade: dict) -> None:
    path = OUT_DIR / "eval.json"
    report = json.loads(path.read_text()) if path.exists() else {}
    versions = {name: importlib.metadata.version(name) for name in
                ("facenet-pytorch", "torch", "onnx", "onnxruntime", "onnxscript", "numpy",
                 "opencv-python-headless")}
    report["export"] = {
        "command": "python scripts/export_mtcnn.py (in the export venv)",
        "versions": versions, "weights_sha256": WEIGHTS_SHA256,
        "files": {FILES[r]: shas[r] for r in NETS},
        "torch_vs_onnx_max_abs_diff": diffs, "cascade_on_samples": cascade,
    }
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print("wrote eval.json (export section)")


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args()
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    from eval_mtcnn import sample_photos

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    mtcnn, detect_face = load_upstream()
    nets = load_nets(mtcnn)
    shas = {}
    for role, net in nets.items():
        path = OUT_DIR / FILES[role]
        export(net, role, path)
        shas[role] = sha256_file(path)
        print(f"{FILES[role]}: {path.stat().st_size} bytes, sha256 {shas[role]}\n  "
              + describe(path))
    samples = sample_photos()
    diffs = compare_nets(nets, list(samples.values()))
    cascade = cascades(nets, detect_face, samples)
    (OUT_DIR / "labels.txt").write_text("face\n")
    save_fixtures(samples)
    write_toml(shas)
    write_report(shas, diffs, cascade)


if __name__ == "__main__":
    main()
