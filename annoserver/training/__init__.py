"""Training classifiers on the user's own images: the CENL transfer-learning recipe, Flask-free.

``annoserver train classifier`` wires :func:`train_classifier` to the command line. Modules:

- :mod:`~annoserver.training.sources`: folder per class, CSV of IIIF URLs, ``/export`` files.
- :mod:`~annoserver.training.pixels`: a sample's pixels, through the guarded IIIF client.
- :mod:`~annoserver.training.features`: the backbone's embeddings through ONNX Runtime.
- :mod:`~annoserver.training.head`: logistic regression in numpy.
- :mod:`~annoserver.training.evaluation`: the stratified split and the held-out figures.
- :mod:`~annoserver.training.fused_graph`: backbone + head as one ONNX graph.
- :mod:`~annoserver.training.folder`, :mod:`~annoserver.training.card`: the model folder.
- :mod:`~annoserver.training.pipeline`: all of it in order.
"""

from annoserver.training.errors import SampleError, TrainingError
from annoserver.training.head import Head, HeadSettings, train_head
from annoserver.training.pipeline import TrainingReport, TrainingRequest, train_classifier
from annoserver.training.sources import DataSource, Sample, read_source

__all__ = [
    "DataSource", "Head", "HeadSettings", "Sample", "SampleError", "TrainingError",
    "TrainingReport", "TrainingRequest", "read_source", "train_classifier", "train_head",
]
