"""What every job runner shares in one process: the repositories, runtime, session, settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from annoserver.iiif import IIIFSession
from annoserver.inference import Runtime
from annoserver.jobs.settings import JobSettings
from annoserver.store.annotations import AnnotationStore
from annoserver.store.embeddings import EmbeddingStore
from annoserver.store.jobs import JobRepository
from annoserver.store.manifests import ManifestStore


@dataclass(frozen=True)
class JobContext:
    """The parts a job needs; built once per process (by the app, a worker or the CLI)."""

    repository: JobRepository
    manifests: ManifestStore
    annotations: AnnotationStore
    runtime: Runtime
    session: IIIFSession
    settings: JobSettings
    embeddings: EmbeddingStore
    # Sends units to a message broker (BROKER_URL set); None: executors poll the database.
    dispatcher: Any = None
