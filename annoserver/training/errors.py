"""Errors of the training recipe, kept free of Flask so the CLI (and any worker) can raise them.

They are :class:`annoserver.errors.AnnoserverError` subclasses like every other error::

    TrainingError                  400  (unusable data, a backbone without embeddings, ...)
    └── SampleError                422  (one sample could not be read; it is left out)
"""

from __future__ import annotations

from annoserver.errors import AnnoserverError


class TrainingError(AnnoserverError):
    """The training data or settings cannot make a model."""

    status = 400
    title = "Training Not Possible"


class SampleError(TrainingError):
    """One sample's pixels could not be had (no such canvas, no image service...)."""

    status = 422
    title = "Unusable Sample"
