"""The official IIIF Image API validator against the super-resolution service, at level 2.

The validator (``iiif-validator``, run as its own command) reads its test image's colour grid
at 100-px squares of a 1000 × 1000 image, so the upstream serves that image at 500 × 500 under
the validator's identifier and the ×2 service shows it at the size the validator expects
(with the original 1000-px image upstream, the ×2 service is 2000 px and the 7 checks that
assume 100-px squares or a 1000-px image fail by nature: id_squares, region_pixels,
rot_full_basic, rot_region_basic, size_noup, size_percent, size_region; geometry, not colour).
The squares' colours survive super-resolution. Tests the validator files under level 3
(arbitrary rotation, upscaling, gif, tif, jp2, pdf) are features not offered.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from annoserver.superres import encode_upstream
from tests.services import require
from tests.superres.conftest import VALIDATOR_ID, upstream_id

VALIDATE = Path(sys.executable).parent / "iiif-validate.py"


@pytest.mark.slow
@pytest.mark.parametrize("version", ["3.0", "2.1"])
def test_validator_level2(live_sr, sr_upstream, version):
    require("the IIIF Image API validator (pip install .[test])",
            lambda: VALIDATE.resolve(strict=True))
    identifier = encode_upstream(upstream_id(sr_upstream, VALIDATOR_ID, version))
    done = subprocess.run(
        [sys.executable, str(VALIDATE), "--server", live_sr, "--prefix", "iiif/sr/espcn-x2",
         "--identifier", identifier, "--version", "3.0", "--level", "2"],
        capture_output=True, text=True, timeout=120)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert "Done (33 tests, 0 failures)" in report, report
