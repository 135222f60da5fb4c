"""Real servers for the IIIF client's tests, all on 127.0.0.1.

- :class:`ReferenceServer`: the IIIF reference implementation's ``iiif_testserver.py`` (PyPI
  ``iiif``, GPLv3: only ever run as a separate process, never imported) serving Image API 2.1
  and 3.0 over a directory of generated images.
- :class:`StaticServer`: level-0 tile sets written by the same package's ``iiif_static.py``,
  served by ``python -m http.server`` in a separate process.
- :class:`FaultServer`: a small threaded ``http.server`` whose paths misbehave on purpose
  (drip, stall, 429, 500, endless bodies, redirects, bombs) for faults a real server won't make.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.services import free_port, require

HOST = "127.0.0.1"


def iiif_script(name: str) -> Path:
    """Path of a script the ``iiif`` package installs (``iiif_testserver.py``...)."""
    beside = Path(sys.executable).parent / name
    found = beside if beside.exists() else shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found: pip install iiif (test-only, GPLv3)")
    return Path(found)


def _wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text(errors='replace')[-2000:]}")
        with socket.socket() as sock:
            if sock.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listened on {HOST}:{port} within {timeout} s")


class _Process:
    """A server subprocess with a log file, stopped on exit."""

    def __init__(self, argv: list[str], workdir: Path, port: int) -> None:
        self.argv, self.workdir, self.port = argv, workdir, port
        self.url = f"http://{HOST}:{port}"
        self.process: subprocess.Popen | None = None

    def __enter__(self):
        self.log = self.workdir / f"server-{self.port}.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(self.argv, cwd=self.workdir, stdout=log,
                                            stderr=subprocess.STDOUT)
        try:
            _wait_for_port(self.port, self.process, self.log)
        except Exception:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class ReferenceServer(_Process):
    """``iiif_testserver.py`` with the PIL manipulator, API 2.1 and 3.0, on 127.0.0.1."""

    def __init__(self, image_dir: Path, workdir: Path) -> None:
        require("the IIIF reference server (pip install iiif)",
                lambda: iiif_script("iiif_testserver.py"))
        port = free_port()
        super().__init__([sys.executable, str(iiif_script("iiif_testserver.py")),
                          "--host", HOST, "--port", str(port), "--image-dir", str(image_dir),
                          "--api-versions", "2.1,3.0", "--manipulators", "pil", "--quiet"],
                         workdir, port)

    def info_url(self, version: str, identifier: str) -> str:
        """``info.json`` URL of ``identifier`` under API ``version`` (``"2.1"``/``"3.0"``)."""
        return f"{self.url}/{version}_pil/{identifier}/info.json"


class StaticServer(_Process):
    """Level-0 tile sets by ``iiif_static.py`` (v2.1 under ``/v2``, v3.0 under ``/v3``)."""

    def __init__(self, sources: dict[str, Path], root: Path, tile_size: int = 256) -> None:
        require("the IIIF static tile generator (pip install iiif)",
                lambda: iiif_script("iiif_static.py"))
        port = free_port()
        for version, folder in (("2.1", "v2"), ("3.0", "v3")):
            for identifier, source in sources.items():
                done = subprocess.run(
                    [sys.executable, str(iiif_script("iiif_static.py")), "--quiet",
                     "--dst", str(root / folder), "--tilesize", str(tile_size),
                     "--api-version", version, "--prefix", f"http://{HOST}:{port}/{folder}",
                     "--identifier", identifier, str(source)],
                    cwd=root, capture_output=True, text=True, timeout=120)
                if done.returncode != 0:
                    raise RuntimeError(f"iiif_static.py failed: {done.stderr[-2000:]}")
        super().__init__([sys.executable, "-m", "http.server", "--bind", HOST,
                          "--directory", str(root), str(port)], root, port)

    def info_url(self, version: int, identifier: str) -> str:
        """``info.json`` URL of ``identifier`` in the v2 or v3 tile set."""
        return f"{self.url}/v{version}/{identifier}/info.json"


Route = Callable[["_FaultHandler", dict[str, str]], None]


class FaultServer:
    """A threaded HTTP server on 127.0.0.1 with misbehaving routes; counts hits per path."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.seen_headers: list[dict[str, str]] = []
        self.active = self.max_active = 0
        self.lock = threading.Lock()
        self.payloads: dict[str, tuple[bytes, tuple[int, int]]] = {}
        # Failures ``/svc/`` answers before anything else: (status, Retry-After or None).
        self.svc_failures: deque[tuple[int, str | None]] = deque()
        # Every ``/svc/`` answer: (time.monotonic(), path, status).
        self.svc_answers: list[tuple[float, str, int]] = []
        self.stop = threading.Event()

    def __enter__(self) -> FaultServer:
        handler = type("Handler", (_FaultHandler,), {"fault": self})
        self.server = ThreadingHTTPServer((HOST, 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://{HOST}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def reset(self) -> None:
        """Forget hits, seen headers and scripted failures between tests."""
        with self.lock:
            self.hits.clear()
            self.seen_headers.clear()
            self.svc_failures.clear()
            self.svc_answers.clear()
            self.active = self.max_active = 0

    def fail_svc(self, status: int, count: int, retry_after: str | None = None) -> None:
        """Make the next ``count`` ``/svc/`` requests (any image, any path) answer ``status``."""
        with self.lock:
            self.svc_failures.extend([(status, retry_after)] * count)


class _FaultHandler(BaseHTTPRequestHandler):
    fault: FaultServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        with self.fault.lock:
            self.fault.hits[parts.path] += 1
            self.fault.seen_headers.append(dict(self.headers))
        segments = parts.path.strip("/").split("/")
        route = getattr(self, f"route_{segments[0].replace('-', '_')}", None)
        try:
            if route is None:
                self.reply(404, b"no such route")
            else:
                route(segments[1:], query)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def reply(self, status: int, body: bytes, content_type: str = "application/octet-stream",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def start_stream(self, content_type: str = "image/jpeg") -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.end_headers()  # HTTP/1.0, no length: the body ends when the connection closes
        self.wfile.flush()

    def route_json(self, segments: list[str], query: dict[str, str]) -> None:
        self.reply(200, json.dumps({"path": segments, **query}).encode(), "application/json")

    def route_headers(self, segments: list[str], query: dict[str, str]) -> None:
        self.reply(200, json.dumps(dict(self.headers)).encode(), "application/json")

    def route_notjson(self, segments: list[str], query: dict[str, str]) -> None:
        self.reply(200, b"<html>surely not JSON</html>", "application/json")

    def route_redirect(self, segments: list[str], query: dict[str, str]) -> None:
        self.reply(int(query.get("code", 302)), b"", headers={"Location": query["to"]})

    def route_loop(self, segments: list[str], query: dict[str, str]) -> None:
        """A redirect cycle: ``/loop/a`` → ``/loop/b`` → ``/loop/a`` → ..."""
        other = "b" if segments[:1] == ["a"] else "a"
        self.reply(302, b"", headers={"Location": f"/loop/{other}"})

    def route_status(self, segments: list[str], query: dict[str, str]) -> None:
        headers = {"Retry-After": query["retry_after"]} if "retry_after" in query else {}
        self.reply(int(segments[0]), b"failure", headers=headers)

    def route_flaky(self, segments: list[str], query: dict[str, str]) -> None:
        """Fail the first ``fail`` hits of this path with ``code`` and ``Retry-After``."""
        if self.fault.hits[urlsplit(self.path).path] <= int(query.get("fail", 1)):
            self.reply(int(query.get("code", 429)), b"later",
                       headers={"Retry-After": query.get("retry_after", "1")})
        else:
            self.reply(200, b"finally", "text/plain")

    def route_drip(self, segments: list[str], query: dict[str, str]) -> None:
        self.start_stream()
        end = time.monotonic() + 20
        while time.monotonic() < end and not self.fault.stop.is_set():
            self.wfile.write(b"x")
            self.wfile.flush()
            time.sleep(0.05)

    def route_stall(self, segments: list[str], query: dict[str, str]) -> None:
        self.start_stream()
        self.fault.stop.wait(float(query.get("for", 5)))

    def route_slow_headers(self, segments: list[str], query: dict[str, str]) -> None:
        self.fault.stop.wait(float(query.get("for", 3)))
        self.reply(200, b"late")

    def route_big_declared(self, segments: list[str], query: dict[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(10**10))
        self.end_headers()
        self.wfile.write(b"0" * 1024)

    def route_endless(self, segments: list[str], query: dict[str, str]) -> None:
        self.start_stream()
        chunk = b"\0" * 65536
        for _ in range(1024):  # 64 MiB at most, should the client not hang up
            if self.fault.stop.is_set():
                return
            self.wfile.write(chunk)

    def route_slow(self, segments: list[str], query: dict[str, str]) -> None:
        with self.fault.lock:
            self.fault.active += 1
            self.fault.max_active = max(self.fault.max_active, self.fault.active)
        try:
            time.sleep(float(query.get("for", 0.3)))
        finally:
            with self.fault.lock:
                self.fault.active -= 1
        self.reply(200, b"done")

    def route_svc(self, segments: list[str], query: dict[str, str]) -> None:
        """A fake v3 level-2 service ``/svc/<payload>`` whose images are a stored payload.

        Scripted failures (:meth:`FaultServer.fail_svc`) are answered first, in order."""
        with self.fault.lock:
            failure = self.fault.svc_failures.popleft() if self.fault.svc_failures else None
            self.fault.svc_answers.append((time.monotonic(), urlsplit(self.path).path,
                                           failure[0] if failure else 200))
        if failure is not None:
            status, retry_after = failure
            self.reply(status, b"scripted failure",
                       headers={"Retry-After": retry_after} if retry_after else None)
            return
        if segments[0] not in self.fault.payloads:
            self.reply(404, b"no such image")
            return
        payload, (width, height) = self.fault.payloads[segments[0]]
        if segments[1:] == ["info.json"]:
            info = {"@context": "http://iiif.io/api/image/3/context.json",
                    "id": f"{self.fault.url}/svc/{segments[0]}", "type": "ImageService3",
                    "protocol": "http://iiif.io/api/image", "profile": "level2",
                    "width": width, "height": height}
            self.reply(200, json.dumps(info).encode(), "application/ld+json")
        else:
            self.reply(200, payload, "image/jpeg")
