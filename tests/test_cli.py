"""The annoserver command line, run as a real subprocess where it matters."""

from __future__ import annotations

import os
import subprocess
import sys

from annoserver.cli import main


def _cli(tmp_path, *args):
    env = {**os.environ, "ANNOSERVER_DATA_DIR": str(tmp_path)}
    return subprocess.run([sys.executable, "-c", "from annoserver.cli import main; main()",
                           *args], env=env, capture_output=True, text=True, timeout=60)


def test_db_upgrade_and_tokens(tmp_path):
    upgraded = _cli(tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    created = _cli(tmp_path, "tokens", "create", "--scope", "write", "--name", "ci")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("anno_") and len(secret) > 30
    listed = _cli(tmp_path, "tokens", "list")
    assert "\twrite\tactive\tci" in listed.stdout and secret not in listed.stdout
    token_id = listed.stdout.split("\t")[0]
    assert _cli(tmp_path, "tokens", "revoke", token_id).returncode == 0
    assert "revoked" in _cli(tmp_path, "tokens", "list").stdout
    again = _cli(tmp_path, "tokens", "revoke", token_id)
    assert again.returncode != 0 and "no active token" in again.stderr


def test_bad_scope_is_refused(runner):
    result = runner.invoke(main, ["tokens", "create", "--scope", "root"])
    assert result.exit_code != 0


def test_serve_runs_gunicorn(tmp_path):
    import signal
    import time

    import requests

    from tests.services import free_port

    port = free_port()
    env = {**os.environ, "ANNOSERVER_DATA_DIR": str(tmp_path)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen(
        [sys.executable, "-c", "from annoserver.cli import main; main()", "serve",
         "--port", str(port), "--workers", "1"], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                response = requests.get(f"http://127.0.0.1:{port}/ready", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):  # a busy machine: wait on
                time.sleep(0.2)
        assert response.status_code == 200
        assert (tmp_path / "annoserver.sqlite3").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
