"""Real services the tests need: skip with a reason locally, fail when CI is set."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

POSTGRES_URL = os.environ.get("ANNOSERVER_TEST_POSTGRES",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def require(name: str, check) -> None:
    """Run ``check``; on failure skip (locally) or fail (in CI) naming the service."""
    try:
        check()
    except Exception as error:  # noqa: BLE001 - any failure means "not available"
        message = f"{name} is not available: {type(error).__name__}: {error}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must provide it)")
        pytest.skip(message)


def _ping_postgres() -> None:
    engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    engine.dispose()


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema for one test; yields a URL whose search_path is it."""
    require("PostgreSQL on 127.0.0.1:5432", _ping_postgres)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GunicornServer:
    """annoserver under real gunicorn (several workers) on 127.0.0.1, for process-level tests."""

    def __init__(self, database_url: str, workers: int = 3, threads: int = 4,
                 extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "ANNOSERVER_DATABASE_URL": database_url,
                    "ANNOSERVER_PUBLIC_URL": self.url, **(extra_env or {})}
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.argv = [sys.executable, "-m", "gunicorn", "--config",
                     "python:annoserver.gunicorn_config", "--bind", f"127.0.0.1:{self.port}",
                     "--workers", str(workers), "--threads", str(threads),
                     "--access-logfile", "/dev/null", "annoserver.app:create_app()"]
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> GunicornServer:
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(self.argv, env=self.env, stdout=subprocess.DEVNULL,
                                        stderr=self.log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"gunicorn exited: {self.log.read()[-2000:].decode()}")
            try:
                if requests.get(self.url + "/ready", timeout=5).status_code == 200:
                    return self
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet, or a worker still loading its models
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("gunicorn did not become ready within 60 s")

    def output(self) -> str:
        """The end of what gunicorn and its workers wrote to stderr so far."""
        self.log.seek(0)
        return self.log.read()[-3000:].decode(errors="replace")

    def kill(self) -> None:
        """SIGKILL the master, then its workers (no graceful shutdown, nothing respawned)."""
        master = self.process.pid
        workers = _children(master)
        self.process.kill()
        self.process.wait()
        for pid in workers:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)

    def __exit__(self, *exc_info: object) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def _children(pid: int) -> list[int]:
    """The ids of the processes ``pid`` started (Linux's /proc)."""
    return [int(child) for child in
            Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie, whose parent is gone, counts as dead)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


class DramatiqWorker:
    """``annoserver worker`` in its own process group (SIGKILL takes its children too)."""

    def __init__(self, settings: dict, options: tuple[str, ...] = ("--processes", "1"),
                 **extra: str) -> None:
        self.env = {**os.environ, **extra, "ANNOSERVER_DATABASE_URL": settings["DATABASE_URL"],
                    "ANNOSERVER_BROKER_URL": settings["BROKER_URL"],
                    "ANNOSERVER_MODELS_DIR": settings["MODELS_DIR"],
                    "ANNOSERVER_ALLOWED_HOSTS": "127.0.0.1",
                    "ANNOSERVER_JOB_HEARTBEAT": "0.2", "ANNOSERVER_JOB_STALE_AFTER": "2",
                    "ANNOSERVER_JOB_BACKOFF": "0.05"}
        handle, self.log = tempfile.mkstemp(prefix="annoserver-worker-", suffix=".log")
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from annoserver.cli import main; main()", "worker",
             "--threads", "2", *options],
            env=self.env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
        os.close(handle)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        os.unlink(self.log)

    def output(self) -> str:
        with open(self.log, "rb") as log:
            return log.read()[-3000:].decode(errors="replace")


def _postgres_bin() -> Path:
    """The folder of PostgreSQL's server programs (``initdb``, ``pg_ctl``)."""
    found = shutil.which("initdb") or max(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                                          default=None)
    if not found:
        raise FileNotFoundError("initdb not found (apt-get install postgresql)")
    return Path(found).parent


class PrivatePostgres:
    """A throwaway PostgreSQL cluster of this test's own on a free 127.0.0.1 port (trust
    auth, database ``postgres``), to restart or stop without touching the shared server.

    Run as the ``postgres`` user when the tests run as root (PostgreSQL refuses root).
    """

    def __init__(self) -> None:
        require("PostgreSQL's initdb and pg_ctl", _postgres_bin)
        self.bin = _postgres_bin()
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str, timeout: float = 120) -> None:
        command = [str(self.bin / argv[0]), *argv[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {done.stdout[-1000:]}{done.stderr[-1000:]}")

    def _pg_ctl(self, action: str, *options: str) -> None:
        self._run("pg_ctl", action, "-D", str(self.data), "-l", str(self.root / "log"), "-w",
                  "-t", "60", *options,
                  "-o", f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
                        "-c fsync=off -c full_page_writes=off")

    def __enter__(self) -> PrivatePostgres:
        self.root = Path(tempfile.mkdtemp(prefix="annoserver-pg-"))
        self.data = self.root / "data"
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        try:
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                      "-E", "UTF8", "--no-sync")
            self._pg_ctl("start")
        except Exception:
            shutil.rmtree(self.root, ignore_errors=True)
            raise
        return self

    def restart(self) -> None:
        """Restart the server (``-m fast``: sessions are cut, transactions rolled back)."""
        self._pg_ctl("restart", "-m", "fast")

    def __exit__(self, *exc_info: object) -> None:
        with suppress(Exception):
            self._pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def _redis_server() -> str:
    found = shutil.which("redis-server")
    if not found:
        raise FileNotFoundError("redis-server not found (apt-get install redis-server)")
    return found


class PrivateRedis:
    """A redis-server of this test's own on a free 127.0.0.1 port that keeps nothing on disk
    (a restart loses every message), to kill and start again without touching the shared one."""

    def __init__(self) -> None:
        require("redis-server", _redis_server)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(
            [_redis_server(), "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError as error:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from error
                time.sleep(0.05)
            finally:
                client.close()

    def kill(self) -> None:
        """SIGKILL the server: what it held (queued and delayed messages) is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            self.process.wait()

    def __enter__(self) -> PrivateRedis:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.kill()
