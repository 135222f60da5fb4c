"""The head: multinomial logistic regression on frozen features, in numpy.

Features are standardised (train-split mean and spread), the L2-regularised cross-entropy is
minimised by full-batch gradient descent with Nesterov momentum at the step size its
smoothness allows (so no learning rate to tune), and the standardisation is folded into the
weights at the end: the exported graph is one ``Gemm`` on the raw embedding. Everything is
deterministic: zero start, fixed steps, float64, the seed only drives the power iteration.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from annoserver.inference.ops import softmax

MIN_SPREAD = 1e-6  # features (nearly) constant on the train split are left unscaled


@dataclass(frozen=True)
class HeadSettings:
    """How the head is trained.

    Attributes:
        l2: weight of ``0.5 * ||W||²`` (standardised units; the bias is not penalised).
        steps: full-batch gradient steps.
        seed: seeds the power iteration that bounds the step size.
    """

    l2: float = 1e-2
    steps: int = 300
    seed: int = 0


@dataclass(frozen=True)
class Head:
    """``logits = x @ weight.T + bias`` on raw embeddings (standardisation folded in)."""

    weight: np.ndarray  # [C, D] float32
    bias: np.ndarray  # [C] float32
    loss: float

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Logits of raw embeddings ``x`` ``[N, D]``, computed in float32 as the graph does."""
        return np.asarray(x, np.float32) @ self.weight.T + self.bias

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Softmax of :meth:`logits`, ``[N, C]``."""
        return softmax(self.logits(x).astype(np.float64))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Best class index per row."""
        return np.argmax(self.logits(x), axis=1)


def _spectral_norm_squared(z: np.ndarray, seed: int, iterations: int = 50) -> float:
    """Largest eigenvalue of ``z.T @ z`` by power iteration (cheap for any row count)."""
    vector = np.random.default_rng(seed).standard_normal(z.shape[1])
    value = 0.0
    for _ in range(iterations):
        product = z.T @ (z @ vector)
        value = float(np.linalg.norm(product))
        if value == 0.0:
            return 0.0
        vector = product / value
    return value


def _loss_and_gradient(z: np.ndarray, onehot: np.ndarray, w: np.ndarray,
                       l2: float) -> tuple[float, np.ndarray]:
    """Mean cross-entropy + ``0.5 * l2 * ||W||²`` and its gradient (last row of w: bias)."""
    logits = z @ w
    logits -= logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    penalty = w[:-1]
    loss = -float((onehot * log_p).sum()) / len(z) + 0.5 * l2 * float((penalty ** 2).sum())
    gradient = z.T @ (np.exp(log_p) - onehot) / len(z)
    gradient[:-1] += l2 * penalty
    return loss, gradient


def train_head(x: np.ndarray, y: np.ndarray, classes: int,
               settings: HeadSettings = HeadSettings()) -> Head:
    """Fit the head on raw embeddings ``x`` ``[N, D]`` and class indices ``y`` ``[N]``."""
    x = np.asarray(x, np.float64)
    mean = x.mean(axis=0)
    spread = x.std(axis=0)
    spread[spread < MIN_SPREAD] = 1.0
    z = np.hstack([(x - mean) / spread, np.ones((len(x), 1))])
    onehot = np.eye(classes)[y]
    # The softmax cross-entropy's Hessian is at most 0.5 * Z'Z / n, plus the L2 term.
    smoothness = 0.5 * _spectral_norm_squared(z, settings.seed) / len(z) + settings.l2
    step = 1.0 / smoothness
    w = previous = np.zeros((z.shape[1], classes))
    for t in range(1, settings.steps + 1):
        look_ahead = w + (t - 1) / (t + 2) * (w - previous)
        _, gradient = _loss_and_gradient(z, onehot, look_ahead, settings.l2)
        previous, w = w, look_ahead - step * gradient
    loss = _loss_and_gradient(z, onehot, w, settings.l2)[0]
    weight = (w[:-1] / spread[:, None]).T
    bias = w[-1] - (mean / spread) @ w[:-1]
    return Head(weight.astype(np.float32), bias.astype(np.float32), loss)
