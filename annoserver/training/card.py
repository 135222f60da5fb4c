"""The generated MODEL_CARD.md of a trained classifier, from its eval.json and model.toml.

Written from the same document as eval.json, so the card, the file and the command's report
cannot disagree; it states what was measured, on what, and what it does not show.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def _summary(report: Mapping[str, Any], toml: Mapping[str, Any]) -> list[str]:
    heldout, data = report["heldout"], report["data"]
    low, high = heldout["accuracy_95ci"]
    labels = list(data["counts"])
    return [
        f"# {report['model']} — image classifier trained here", "",
        f"Says which of {len(labels)} classes a whole image (or region) shows: "
        + ", ".join(_code(label) for label in labels) + ". A frozen "
        f"{_code(report['backbone']['id'])} backbone with a logistic-regression head trained "
        f"by `annoserver train classifier` on the user's own data ({report['created']}).", "",
        f"**Held-out accuracy {heldout['accuracy']:.4f}** on {heldout['images']} images "
        f"(95 % Wilson interval {low:.3f}–{high:.3f}), macro F1 {heldout['macro_f1']:.4f}.", "",
        *_files(report, toml),
        f"- **kind**: `classifier`, one `tagging` annotation per image: the best class when its "
        f"score >= min_score {toml['thresholds']['min_score']} (top_k "
        f"{toml['thresholds']['top_k']}; edit `[thresholds]` in model.toml to show more)",
        f"- **labels**: `labels.txt` ({len(labels)} lines, in class order)",
        f"- **model version**: {report['version']}",
        f"- **license**: {toml['license']}",
    ]


def _files(report: Mapping[str, Any], toml: Mapping[str, Any]) -> list[str]:
    bone = report["backbone"]
    image = (f"`{bone['input']}` as the backbone takes it ({bone['resize']} to "
             f"{' x '.join(map(str, bone['size']))})")
    outputs = "`probabilities` [N, C] (softmax of the head; what the server reads), `logits` [N, C]"
    if "backbone" in toml:
        return [f"- **file**: `model.onnx`, the head alone, sha256 `{toml['sha256']}`; it runs "
                f"on the installed backbone `{bone['id']}` (sha256 `{bone['sha256']}`, checked "
                "at load), whose run heads on the same region share. For one self-contained "
                "file, train without `--shared-backbone`",
                f"- **input**: images, {image}; the head itself takes the backbone's "
                f"`{bone['embedding']}` [N, {bone['dimension']}]",
                f"- **outputs**: {outputs}; no embedding (for `/similar` and stored vectors, "
                f"name `{bone['id']}`)"]
    return [f"- **file**: `model.onnx`, one graph (backbone + head), sha256 `{toml['sha256']}`",
            f"- **input**: {image}",
            f"- **outputs**: {outputs}, `{bone['embedding']}` [N, {bone['dimension']}] (the "
            "backbone's, for `/similar`)"]


def _data(report: Mapping[str, Any]) -> list[str]:
    data, split = report["data"], report["split"]
    rows = [[_code(label), c["train"], c["test"], c["train"] + c["test"]]
            for label, c in data["counts"].items()]
    rows.append(["**all**", split["train"], split["test"], split["train"] + split["test"]])
    lines = ["", "## Training data", "",
             f"- **source**: {data['kind']}, `{data['source']}`",
             f"- **samples listed**: {data['samples']}"]
    if data["left_out"]:
        lines.append("- **left out by the source** (not training data): " + ", ".join(
            f"{n} {reason}" for reason, n in data["left_out"].items()))
    if data["unreadable"]:
        lines.append(f"- **unreadable** (left out, see eval.json): {data['unreadable']}")
    lines += ["", *_table(["class", "train", "held out", "images"], rows)]
    return lines


def _training(report: Mapping[str, Any]) -> list[str]:
    head, split, backbone, timings = (report["head"], report["split"], report["backbone"],
                                      report["timings_s"])
    return ["", "## Training", "",
            f"- **backbone**: `{backbone['id']}` {backbone['version']} (sha256 "
            f"`{backbone['sha256']}`, {backbone['license']}), frozen; its raw "
            f"{backbone['dimension']}-d `{backbone['embedding']}` output",
            f"- **head**: {head['type']}, L2 {head['l2']}, {head['steps']} steps of "
            f"{head['optimizer']}; features standardised on the training part, the scaling "
            "folded into the weights",
            f"- **split**: stratified, {split['test_size']:g} held out per class (at least one), "
            f"seed {split['seed']}; drawn before any image was read",
            f"- **final training loss**: {head['final_loss']:.4f}; training accuracy "
            f"{head['train_accuracy']:.4f}",
            f"- **time**: {timings['features']:.1f} s for features "
            f"({timings['per_image_ms']:.0f} ms per image, fetch included), "
            f"{timings['head']:.2f} s for the head, {timings['total']:.1f} s in all"]


def _evaluation(report: Mapping[str, Any]) -> list[str]:
    heldout, check = report["heldout"], report["onnx_check"]
    labels = heldout["confusion_matrix"]["labels"]
    per_class = [[_code(label), f"{c['precision']:.4f}", f"{c['recall']:.4f}", f"{c['f1']:.4f}",
                  c["support"]] for label, c in heldout["per_class"].items()]
    matrix = [[_code(label), *row] for label, row in
              zip(labels, heldout["confusion_matrix"]["counts"], strict=True)]
    return ["", "## Held-out evaluation", "",
            "The held-out part never entered training or standardisation. Figures are the "
            "head's on the held-out embeddings; the exported graph was checked against it "
            f"on {check['images']} held-out images (max |probability difference| "
            f"{check['max_abs_diff_probabilities']:.1e}, same best class {check['same_top1']}).",
            "",
            f"- **accuracy**: {heldout['accuracy']:.4f} ({heldout['images']} images)",
            f"- **macro F1**: {heldout['macro_f1']:.4f}",
            f"- **coverage at min_score {heldout['min_score']}**: {heldout['coverage']:.4f} of "
            f"images get an annotation; accuracy among them {heldout['accuracy_covered']:.4f}",
            "", *_table(["class", "precision", "recall", "F1", "held-out images"], per_class),
            "", "Confusion matrix (rows: true class, columns: predicted):", "",
            *_table(["", *(_code(label) for label in labels)], matrix)]


def _limits() -> list[str]:
    return ["", "## Intended use and limits", "",
            "- The held-out images come from the same source as the training images: on "
            "other collections, scanners, periods or crops expect lower accuracy. A small "
            "held-out part gives a wide interval (above).",
            "- Every image is put in one of the listed classes; there is no *other* class. An "
            "image unlike all of them still gets its nearest class when its score passes "
            "min_score.",
            "- Scores are the softmax of an L2-regularised head, not calibrated probabilities.",
            "- The backbone was trained on ImageNet photographs and carries its biases; the "
            "labels carry those of whoever made or reviewed them.",
            "- Retrain when the collection or the label set changes; reviewed annotations "
            "exported from annoserver (`/export`) are accepted as training data."]


def model_card(report: Mapping[str, Any], toml: Mapping[str, Any]) -> str:
    """MODEL_CARD.md text for the trained model described by ``report`` (eval.json)."""
    lines = [*_summary(report, toml), *_data(report), *_training(report), *_evaluation(report),
             "", "## Reproduce", "", "```", report["command"], "```", "",
             "The same data and seed give the same split and the same head (the backbone's "
             "features are deterministic for a given ONNX Runtime build and machine).",
             *_limits()]
    return "\n".join(lines) + "\n"
