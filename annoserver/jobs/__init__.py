"""Batch jobs: whole manifests and collections through the models, resumably (no Flask).

- :mod:`~annoserver.jobs.intake`: register a manifest or collection URL, create the job and
  its units (canvas × model; a collection first becomes one *expand* unit).
- :mod:`~annoserver.jobs.work`: the unit of work, :meth:`UnitRunner.run_unit` (ids only, so
  a message queue can carry it), retries with backoff, failures recorded, job goes on.
- :mod:`~annoserver.jobs.executor`: the in-process executor (a thread pool per process).
- :mod:`~annoserver.jobs.progress`: progress, rate and ETA as ``GET /jobs/{id}`` shows them.
- :mod:`~annoserver.jobs.enriched`: enriched manifests and collections.
- :mod:`~annoserver.jobs.settings`, :mod:`~annoserver.jobs.context`,
  :mod:`~annoserver.jobs.errors`.

State lives in the database (:mod:`annoserver.store.jobs`), so any runner can take over.
"""

from annoserver.jobs.context import JobContext
from annoserver.jobs.executor import InProcessExecutor
from annoserver.jobs.intake import Submission, submit
from annoserver.jobs.settings import JobSettings
from annoserver.jobs.work import UnitRunner
from annoserver.store.keys import page_id, parse_page_id

__all__ = ["InProcessExecutor", "JobContext", "JobSettings", "Submission", "UnitRunner",
           "page_id", "parse_page_id", "submit"]
