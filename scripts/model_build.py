"""What the model-building scripts share (run in the ``make models`` venv, not the server's)."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path


def sha256_file(path: Path) -> str:
    """The file's sha256, read in 1 MiB chunks (weights can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def package_dir(module: str, install: str) -> Path:
    """Where an installed package's files are, found without importing it.

    Importing facenet-pytorch or timm would pull in torchvision, which the build venv must
    not have; the scripts only need the files the wheels carry.
    """
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{module} is not installed: {install}")
    return Path(list(spec.submodule_search_locations)[0])
