"""The recipe end to end: data → split → backbone features → head → held-out figures → folder.

This is CENL's "image classification with transfer learning" for institutions, on the CPU and
without PyTorch: a shipped backbone's features, a small head trained in seconds, an honest
held-out evaluation, and a model folder the server loads like any other.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from annoserver.iiif import IIIFSession
from annoserver.inference import SessionSettings, model_folder
from annoserver.inference.graph import file_sha256
from annoserver.inference.repository import MODEL_ID, backbones_of_heads
from annoserver.inference.sessions import ModelSession
from annoserver.training import folder as folders
from annoserver.training.card import model_card
from annoserver.training.errors import TrainingError
from annoserver.training.evaluation import evaluate, stratified_split
from annoserver.training.features import Backbone, Features, extract
from annoserver.training.fused_graph import PROBABILITIES, fuse, head_only
from annoserver.training.head import Head, HeadSettings, train_head
from annoserver.training.pixels import PixelSource
from annoserver.training.sources import DataSource, read_source

CHECKED_IMAGES = 8  # held-out images run through the exported graph to check it
THRESHOLDS = {"min_score": 0.5, "top_k": 1}
UNREADABLE_SHOWN = 10


@dataclass(frozen=True)
class TrainingRequest:
    """What ``annoserver train classifier`` was asked for.

    Attributes:
        data: a folder per class, a CSV of IIIF URLs, or an ``/export`` (jsonl or csv).
        name: the model id (its folder name).
        repository: where the model folder is written (``repository/name``).
        backbone: the backbone's model folder.
        test_size: fraction of each class held out.
        head: how the head is trained (its seed is the split's too).
        overwrite: replace a model folder of the same name.
        command: the command line, for the card.
        shared_backbone: write the head alone (``backbone`` in model.toml), to run on the
            backbone other heads share, instead of one fused graph.
    """

    data: Path
    name: str
    repository: Path
    backbone: Path
    test_size: float = 0.2
    head: HeadSettings = field(default_factory=HeadSettings)
    overwrite: bool = False
    command: str = ""
    shared_backbone: bool = False


@dataclass(frozen=True)
class TrainingReport:
    """The written folder and its eval.json document."""

    folder: Path
    evaluation: dict[str, Any]


def _split(source: DataSource, labels: list[str], request: TrainingRequest
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if len(labels) < 2:
        raise TrainingError(f"{source.path} has {len(labels)} class ({', '.join(labels)}): "
                            "a classifier needs at least 2")
    y = np.asarray([labels.index(s.label) for s in source.samples])
    train, test = stratified_split(y, request.test_size, request.head.seed, labels)
    return y, train, test


def _readable(indices: np.ndarray, features: Features) -> tuple[np.ndarray, np.ndarray]:
    """The given sample indices that were read, and their rows in ``features.vectors``."""
    row = {index: number for number, index in enumerate(features.indices)}
    kept = np.asarray([i for i in indices if i in row], int)
    return kept, np.asarray([row[i] for i in kept], int)


def _check_classes(labels: list[str], y: np.ndarray, train: np.ndarray, test: np.ndarray,
                   features: Features, samples: DataSource) -> None:
    for number, label in enumerate(labels):
        in_train, in_test = (y[train] == number).any(), (y[test] == number).any()
        if not in_train or not in_test:
            examples = "; ".join(f"{samples.samples[i].ref}: {why}"
                                 for i, why in features.failed[:3])
            raise TrainingError(f"class {label!r} has no readable sample left in the "
                                f"{'training' if not in_train else 'held-out'}"
                                f" part ({len(features.failed)} unreadable: {examples})")


def _onnx_check(model_path: Path, backbone: Backbone, head: Head, features: Features,
                settings: SessionSettings | None, shared: bool) -> dict[str, Any]:
    """Run the exported graph on kept held-out images; compare with the head in numpy.

    A head alone is run on their embeddings, as the server runs it.
    """
    kept = sorted(features.kept)
    if not kept:
        return {"images": 0, "max_abs_diff_probabilities": 0.0, "same_top1": "0/0"}
    images = [features.kept[i] for i in kept]
    session = ModelSession(model_path, settings)
    feeds = ({backbone.output_name: backbone.embed(images)} if shared
             else backbone.feeds(images))
    graph = session.run([PROBABILITIES], feeds)[0]
    rows = _readable(np.asarray(kept, int), features)[1]
    expected = head.probabilities(features.vectors[rows])
    diff = float(np.abs(graph - expected).max())
    same = int((graph.argmax(1) == expected.argmax(1)).sum())
    if diff > 1e-3 or same != len(kept):
        raise TrainingError(f"the exported graph disagrees with the trained head (max "
                            f"|difference| {diff:.2e}, same best class {same}/{len(kept)})")
    return {"images": len(kept), "max_abs_diff_probabilities": float(f"{diff:.3g}"),
            "same_top1": f"{same}/{len(kept)}"}


def _model_toml(request: TrainingRequest, backbone: Backbone, report: dict[str, Any],
                sha256: str) -> dict[str, Any]:
    data, heldout = report["data"], report["heldout"]
    labels = list(data["counts"])
    bone = backbone.config
    # what the graph is fed and gives: a head, the backbone's embedding; fused, the images
    if request.shared_backbone:
        wiring = {"backbone": bone.id, "backbone_sha256": bone.sha256,
                  "output": {"logits": PROBABILITIES}}
    else:
        wiring = {"input": dict(backbone.document.get("input", {})),
                  "output": {"logits": PROBABILITIES, "embedding": backbone.output_name}}
    return {
        "kind": "classifier", "version": report["version"],
        "description": f"Trained here on the user's data: which of {len(labels)} classes "
                       f"({', '.join(labels)}) an image shows. Held-out accuracy "
                       f"{heldout['accuracy']:.4f} on {heldout['images']} images; see "
                       "MODEL_CARD.md.",
        "license": f"{bone.license} backbone ({bone.id}); the head was trained locally on "
                   "the user's data, whose terms apply to it",
        "source": f"annoserver train classifier on {data['kind']} {data['source']} "
                  f"(seed {report['split']['seed']}); backbone {bone.id} {bone.version} "
                  f"(sha256 {bone.sha256}), frozen",
        "sha256": sha256, "labels": "labels.txt", "max_batch_size": bone.max_batch_size,
        **wiring,
        "options": {"activation": "none"},
        "thresholds": dict(THRESHOLDS),
        "quality": {"note": "Held-out split of the training data (same source); see "
                            "MODEL_CARD.md and eval.json",
                    "heldout_images": heldout["images"],
                    "heldout_accuracy": heldout["accuracy"],
                    "heldout_macro_f1": heldout["macro_f1"],
                    "heldout_coverage_at_min_score": heldout["coverage"],
                    "train_images": report["split"]["train"], "classes": len(labels)},
    }


def _data_report(source: DataSource, labels: list[str], y: np.ndarray, train: np.ndarray,
                 test: np.ndarray, features: Features) -> dict[str, Any]:
    return {
        "source": str(source.path), "kind": source.kind, "samples": len(source.samples),
        "left_out": source.left_out, "unreadable": len(features.failed),
        "unreadable_examples": [{"sample": source.samples[i].ref, "reason": why}
                                for i, why in features.failed[:UNREADABLE_SHOWN]],
        "counts": {label: {"train": int((y[train] == n).sum()),
                           "test": int((y[test] == n).sum())}
                   for n, label in enumerate(labels)},
    }


@dataclass
class _Run:
    """What one run learnt: the data, its split (readable samples only), features and head."""

    source: DataSource
    labels: list[str]
    y: np.ndarray
    train: np.ndarray
    test: np.ndarray
    train_rows: np.ndarray
    test_rows: np.ndarray
    features: Features
    backbone: Backbone
    head: Head
    timings: dict[str, float]


def _learn(request: TrainingRequest, session: IIIFSession,
           session_settings: SessionSettings | None, progress: Callable[[int], None] | None,
           on_samples: Callable[[int], None] | None) -> _Run:
    """Read the data, split it, embed what can be read, train the head."""
    source = read_source(request.data)
    labels = list(source.counts())
    y, train, test = _split(source, labels, request)
    backbone = Backbone(request.backbone, session_settings)
    if on_samples is not None:
        on_samples(len(source.samples))
    reading = time.perf_counter()
    features = extract(source.samples, PixelSource(session, backbone.target), backbone,
                       keep=test[:CHECKED_IMAGES], progress=progress)
    extracted = time.perf_counter()
    train, train_rows = _readable(train, features)
    test, test_rows = _readable(test, features)
    _check_classes(labels, y, train, test, features, source)
    head = train_head(features.vectors[train_rows], y[train], len(labels), request.head)
    timings = {"features": round(extracted - reading, 3),
               "per_image_ms": round(1000 * (extracted - reading)
                                     / max(len(source.samples), 1), 1),
               "head": round(time.perf_counter() - extracted, 3)}
    return _Run(source, labels, y, train, test, train_rows, test_rows, features, backbone,
                head, timings)


def _report(request: TrainingRequest, run: _Run, version: str) -> dict[str, Any]:
    """The eval.json document (without the ONNX check and timings, added once written)."""
    bone, head, vectors = run.backbone, run.head, run.features.vectors
    scores = head.probabilities(vectors[run.test_rows])
    train_accuracy = float((head.predict(vectors[run.train_rows]) == run.y[run.train]).mean())
    return {
        "model": request.name, "version": version, "kind": "classifier",
        "command": request.command, "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": _data_report(run.source, run.labels, run.y, run.train, run.test, run.features),
        "split": {"stratified": True, "test_size": request.test_size,
                  "seed": request.head.seed, "train": len(run.train), "test": len(run.test)},
        "backbone": {"id": bone.config.id, "version": bone.config.version,
                     "sha256": bone.config.sha256, "license": bone.config.license,
                     "input": bone.config.input.name, "embedding": bone.output_name,
                     "dimension": bone.dimension, "size": list(bone.config.input.size or ()),
                     "resize": bone.config.input.resize},
        "stored": "head only, on the shared backbone" if request.shared_backbone
        else "one graph, backbone and head fused",
        "head": {"type": "multinomial logistic regression", "l2": request.head.l2,
                 "steps": request.head.steps,
                 "optimizer": "full-batch gradient descent with Nesterov momentum",
                 "final_loss": round(head.loss, 6), "train_accuracy": round(train_accuracy, 4)},
        "heldout": evaluate(run.y[run.test], scores.argmax(1), scores, run.labels,
                            THRESHOLDS["min_score"]),
    }


def _write(staging: Path, request: TrainingRequest, run: _Run, report: dict[str, Any],
           session_settings: SessionSettings | None, started: float) -> None:
    """Write and check the model folder in ``staging``; completes ``report``."""
    bone = run.backbone
    metadata = {"annoserver.labels": json.dumps(run.labels),
                "annoserver.backbone": f"{bone.config.id} {bone.config.sha256}",
                "annoserver.recipe": "annoserver train classifier",
                "annoserver.seed": str(request.head.seed)}
    model_path = staging / "model.onnx"
    if request.shared_backbone:
        graph = head_only(bone.output_name, bone.dimension, run.head, metadata,
                          bone.config.onnx_path)
    else:
        graph = fuse(bone.config.onnx_path, bone.output_name, run.head, metadata)
    onnx.save(graph, str(model_path))
    report["onnx_check"] = _onnx_check(model_path, bone, run.head, run.features,
                                       session_settings, request.shared_backbone)
    report["timings_s"] = {**run.timings, "total": round(time.perf_counter() - started, 3)}
    toml = _model_toml(request, bone, report, file_sha256(model_path))
    model_folder.write_text(staging, {
        "labels.txt": "\n".join(run.labels) + "\n",
        "model.toml": model_folder.to_toml(toml, "Written by `annoserver train classifier`; "
                                                 "see MODEL_CARD.md."),
        "MODEL_CARD.md": model_card(report, toml)})
    folders.write_json(staging / "eval.json", report)
    folders.check_folder(staging, bone.config if request.shared_backbone else None)


def _refuse_replacing_a_backbone(repository: Path, name: str) -> None:
    """A model heads stand on is not replaced: they would be refused at the next start."""
    folders = sorted(toml.parent for toml in repository.glob("*/model.toml"))
    heads = [head for head, backbone in backbones_of_heads(folders).items() if backbone == name]
    if heads:
        raise TrainingError(f"model {name!r} is the backbone of {', '.join(heads)}: replacing "
                            "it would leave them on another file (the server refuses them); "
                            "write this model under another name")


def train_classifier(request: TrainingRequest, session: IIIFSession, *,
                     session_settings: SessionSettings | None = None,
                     progress: Callable[[int], None] | None = None,
                     on_samples: Callable[[int], None] | None = None) -> TrainingReport:
    """Train a classifier head on a backbone and write its model folder.

    Args:
        request: the data, name, destination and settings.
        session: the guarded IIIF session remote samples are fetched through.
        session_settings: how ONNX Runtime sessions are built.
        progress: called with the number of samples done after each chunk.
        on_samples: called once with how many samples will be read.

    Raises:
        TrainingError: the data, names or settings cannot make a model.
        ModelFolderExists: a model of that name is there and ``overwrite`` is not set.
        ModelConfigError: the backbone folder is broken.
    """
    started = time.perf_counter()
    if not MODEL_ID.match(request.name):
        raise TrainingError(f"--name {request.name!r} is not a model id (letters, digits, "
                            "'.', '_', '-')")
    destination = request.repository / request.name
    # Before the work, not after it.
    model_folder.refuse_existing(destination, request.overwrite)
    beside = request.repository / request.backbone.name
    if request.shared_backbone and beside.resolve() != request.backbone.resolve():
        raise TrainingError(f"a head stored alone runs on a backbone installed beside it: "
                            f"{request.backbone} is not a model of {request.repository} (copy "
                            "the backbone's folder there, or train without --shared-backbone)")
    _refuse_replacing_a_backbone(request.repository, request.name)
    run = _learn(request, session, session_settings, progress, on_samples)
    report = _report(request, run, folders.next_version(folders.previous_version(destination)))
    staging = model_folder.staging_folder(destination, request.overwrite)
    try:
        _write(staging, request, run, report, session_settings, started)
        model_folder.move_into_place(staging, destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return TrainingReport(destination, report)
