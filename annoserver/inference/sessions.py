"""ONNX Runtime sessions, made lazily in the process that uses them.

A :class:`ModelSession` builds its ``InferenceSession`` on first use and rebuilds it when the
process id has changed since (after ``fork``: ONNX Runtime's thread pools do not survive
it), so a gunicorn master that loads the repository never holds a session its workers share.
The CUDA execution provider is tried first when ONNX Runtime offers it, then the CPU.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import onnxruntime as ort

log = logging.getLogger(__name__)

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"

# Sessions built before a fork are never destroyed in the child: their destructor would join
# thread-pool threads that do not exist there. Copy-on-write keeps the cost low.
_inherited: list[Any] = []
_live: weakref.WeakSet[Any] = weakref.WeakSet()


def reset_after_fork(owner: Any) -> None:
    """Call ``owner._after_fork_in_child()`` in every process forked from this one.

    For what must not cross a fork as is: sessions, and locks a parent's thread may hold.
    """
    _live.add(owner)


@dataclass(frozen=True)
class SessionSettings:
    """How sessions are built.

    Attributes:
        providers: execution providers in order of preference; ``None`` picks CUDA first
            when available, then CPU.
        intra_op_threads: threads inside one operator (0: ONNX Runtime's default).
        inter_op_threads: threads across operators (0: ONNX Runtime's default).
        cuda_device_id: the GPU a process uses (one worker process per GPU).
    """

    providers: tuple[str, ...] | None = None
    intra_op_threads: int = 0
    inter_op_threads: int = 0
    cuda_device_id: int = 0


class Runner(Protocol):
    """What a model kind runs: a :class:`ModelSession`, or a wrapper sharing a backbone's run."""

    def run(self, output_names: Sequence[str], feeds: Mapping[str, np.ndarray]
            ) -> list[np.ndarray]:
        """The named outputs for ``feeds`` (input tensors by name)."""
        ...


def choose_providers(settings: SessionSettings) -> list[str]:
    """Return the providers to ask for, keeping only those this ONNX Runtime offers."""
    available = ort.get_available_providers()
    wanted = settings.providers or (CUDA, CPU)
    chosen = [p for p in wanted if p in available]
    return chosen or [CPU]


class ModelSession:
    """A lazily built, fork-aware ``onnxruntime.InferenceSession`` for one ONNX file."""

    def __init__(self, path: Path, settings: SessionSettings | None = None) -> None:
        self.path = Path(path)
        self.settings = settings or SessionSettings()
        self._lock = threading.Lock()
        self._session: ort.InferenceSession | None = None
        self._pid: int | None = None
        reset_after_fork(self)

    def _after_fork_in_child(self) -> None:
        if self._session is not None:
            _inherited.append(self._session)
        self._session, self._pid = None, None
        self._lock = threading.Lock()  # a thread of the parent may have held it at fork

    def _build(self) -> ort.InferenceSession:
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.settings.intra_op_threads
        options.inter_op_num_threads = self.settings.inter_op_threads
        providers = choose_providers(self.settings)
        provider_options = [{"device_id": str(self.settings.cuda_device_id)} if p == CUDA else {}
                            for p in providers]
        session = ort.InferenceSession(str(self.path), sess_options=options,
                                       providers=providers, provider_options=provider_options)
        if providers[0] != session.get_providers()[0]:
            log.warning("%s: asked for %s, running on %s", self.path, providers[0],
                        session.get_providers()[0])
        return session

    @property
    def session(self) -> ort.InferenceSession:
        """The session of this process, built on first use (and again after a fork)."""
        pid = os.getpid()
        session = self._session
        if session is not None and self._pid == pid:
            return session
        with self._lock:
            if self._session is not None and self._pid != pid:
                _inherited.append(self._session)  # forked without the at-fork hook
                self._session = None
            if self._session is None:
                self._session, self._pid = self._build(), pid
            return self._session

    @property
    def loaded(self) -> bool:
        """Whether this process has built its session."""
        return self._session is not None and self._pid == os.getpid()

    @property
    def pid(self) -> int | None:
        """The process that built the current session."""
        return self._pid

    @property
    def provider(self) -> str:
        """The provider the session runs on, or the one it would try first if not built yet."""
        if self.loaded:
            return self._session.get_providers()[0]
        return choose_providers(self.settings)[0]

    def run(self, output_names: Sequence[str], feeds: Mapping[str, np.ndarray]
            ) -> list[np.ndarray]:
        """Run the model (thread-safe: ONNX Runtime allows concurrent ``run`` calls)."""
        return self.session.run(list(output_names), dict(feeds))


def _reset_in_child() -> None:
    for owner in list(_live):
        owner._after_fork_in_child()


os.register_at_fork(after_in_child=_reset_in_child)
