"""The public contract, fuzzed: schemathesis against /openapi.json of the running server.

Real gunicorn (2 workers × 4 threads) on 127.0.0.1 over SQLite and PostgreSQL, the shipped
classifier and a tiny detector, an admin token on every request (so write routes are
exercised past authentication). Every operation of the spec, examples + coverage + fuzzing +
stateful phases within a time budget. Checks: no 5xx; status codes, content types (every 4xx
is ``application/problem+json``, except gunicorn's own 414/431 page for an over-long request
line) and response bodies as the spec documents them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from annoserver.store.tokens import TokenStore
from tests.model_repos import write_test_models
from tests.services import GunicornServer

pytestmark = pytest.mark.slow
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance")
BUDGET_S = 40


def test_every_operation_keeps_the_contract(database_url, tmp_path):
    models = write_test_models(tmp_path / "models")
    env = {"ANNOSERVER_MODELS_DIR": str(models), "ANNOSERVER_DATA_DIR": str(tmp_path),
           "ANNOSERVER_ALLOWED_HOSTS": ""}
    with GunicornServer(database_url, workers=2, threads=4, extra_env=env) as server:
        engine = create_engine(database_url)
        _, secret = TokenStore(engine).create("admin", "contract")
        engine.dispose()
        command = [str(Path(sys.executable).parent / "schemathesis"), "run",
                   f"{server.url}/openapi.json", "--checks", CHECKS,
                   "--header", f"Authorization: Bearer {secret}",
                   "--max-time", str(BUDGET_S), "--continue-on-failure",
                   "--request-timeout", "30", "--warnings", "off", "--no-color",
                   # No example database: it is what feeds Hypothesis's Pareto optimiser,
                   # whose shrinker crashed (IndexError) inside Hypothesis 6.170.
                   "--generation-database", "none",
                   "--seed", "0" if os.environ.get("CI") else str(os.getpid())]
        if os.environ.get("CI"):
            command.append("--no-shrink")  # CI replays seed 0; shrink locally to debug
        done = subprocess.run(command, capture_output=True, text=True, timeout=BUDGET_S + 240,
                              cwd=tmp_path)
    report = done.stdout[-6000:] + done.stderr[-2000:]
    assert done.returncode == 0, report
    assert "45/45" in report or "Tested:" in report, report
