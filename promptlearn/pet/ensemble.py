"""Merging the class scores of several PVP models, and softening them into distillation targets.

PET (Schick & Schütze 2021) averages the models' *logits*, plain (``mean``) or weighted
(``wmean``: each model by its accuracy on its training set before training), and softens the
merged logits with a temperature T (2 in PET) into the soft labels the final classifier learns.

The models' probabilities are stored, so the logits used here are log-probabilities: they differ
from a model's raw scores by one constant per example (the log-sum-exp), and a (weighted) mean of
per-example constants is again one, which softmax ignores. Merging log-probabilities therefore
gives exactly the distribution merging raw logits would, at any temperature.
"""

from __future__ import annotations

import numpy as np

from promptlearn.errors import PromptlearnError

REDUCTIONS = ("mean", "wmean")
#: the smallest normal float32: a probability that underflowed to 0 becomes this before the log
TINY = float(np.finfo(np.float32).tiny)


def log_probs(probabilities: np.ndarray) -> np.ndarray:
    """(N, C) probabilities -> (N, C) log-probabilities in float64 (zeros clipped to :data:`TINY`)."""
    return np.log(np.maximum(np.asarray(probabilities, dtype=np.float64), TINY))


def merge(logits: list[np.ndarray], weights: list[float] | None = None) -> np.ndarray:
    """The ensemble's (N, C) logits: the mean of the models' (N, C) logits, weighted by ``weights`` if given.

    ``weights`` (one per model, >= 0, not all 0) is PET's ``wmean``; None is ``mean``.
    """
    if not logits:
        raise PromptlearnError("An ensemble needs at least one model")
    stacked = np.stack(logits)  # (M, N, C)
    if weights is None:
        return stacked.mean(axis=0)
    weights = np.asarray(weights, dtype=np.float64)
    valid = weights.shape == (len(logits),) and np.isfinite(weights).all() and (weights >= 0).all()
    if not valid or weights.sum() <= 0:
        raise PromptlearnError(f"wmean needs one finite non-negative weight per model, not all 0: {weights.tolist()}")
    return np.tensordot(weights / weights.sum(), stacked, axes=1)


def soften(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """softmax(logits / T) over the last axis: (N, C) -> (N, C) probabilities."""
    if temperature <= 0:
        raise PromptlearnError(f"--temperature must be positive, got {temperature}")
    scaled = logits / temperature
    scaled = scaled - scaled.max(axis=-1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=-1, keepdims=True)


def accuracy(logits: np.ndarray, gold: list[int]) -> float | None:
    """Share of rows whose argmax is the gold index; None without gold labels (any index < 0)."""
    gold = np.asarray(gold)
    if len(gold) == 0 or (gold < 0).any():
        return None
    return float((logits.argmax(axis=-1) == gold).mean())
