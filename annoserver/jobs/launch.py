"""How ``annoserver worker`` starts Dramatiq: one process group, or one process per GPU.

ONNX Runtime's CUDA provider in one process uses one GPU; the usual way to use several is a
process per GPU, each seeing only its own (``CUDA_VISIBLE_DEVICES``), so every process keeps
``device_id`` 0 and the sessions it makes after the fork land on its GPU.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence

Command = tuple[list[str], dict[str, str]]


def dramatiq_commands(queue: str, processes: int | None, threads: int | None,
                      gpus: Sequence[str] = ()) -> list[Command]:
    """The Dramatiq command lines to run, each with the environment it adds.

    Without ``gpus``: one command with ``processes`` processes. With them: one command per
    GPU, ``processes`` (default 1) processes each, pinned to that GPU.
    """
    argv = [sys.executable, "-m", "dramatiq", "annoserver.jobs.worker", "--queues", queue]
    if threads:
        argv += ["--threads", str(threads)]
    if not gpus:
        return [(argv + (["--processes", str(processes)] if processes else []), {})]
    return [(argv + ["--processes", str(processes or 1)], {"CUDA_VISIBLE_DEVICES": gpu})
            for gpu in gpus]


def run(commands: list[Command]) -> int:
    """Run the commands: one replaces this process; several are children, stopped together."""
    if len(commands) == 1 and not commands[0][1]:
        argv = commands[0][0]
        os.execv(argv[0], argv)
    children: list[subprocess.Popen] = []
    forwarded: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        forwarded.append(signum)
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    # Handlers first: a signal arriving while the children start must reach them too.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, forward)
    for argv, extra in commands:
        if forwarded:
            break  # asked to stop before this one started
        children.append(subprocess.Popen(argv, env={**os.environ, **extra}))
    codes = [child.wait() for child in children]
    # A child ended by the signal we passed on stopped as asked; any other failure counts.
    failed = [code for code in codes if code and -code not in forwarded]
    return failed[0] if failed else 0
