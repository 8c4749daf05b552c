"""SetFit's sentence pairs from a labelled few-shot set (Tunstall et al. 2022): same label = positive (1.0),
different labels = negative (0.0).

Every unordered pair of examples, each example with itself included, is a candidate, as in the ``setfit``
library; how many of each kind are drawn is the sampling strategy's:

- ``oversampling`` (SetFit's default): as many positives as negatives, both as many as the larger kind,
  the smaller kind repeated in its shuffled order;
- ``undersampling``: both as many as the smaller kind;
- ``unique``: every candidate once;
- ``iterations=R`` (SetFit's ``num_iterations``) overrides the strategy: R x N of each kind, N examples.

Positives and negatives alternate (positive first). The candidates are shuffled by ``seed``; SetFit shuffles
with a fixed 42 whatever the run's seed, so its runs at different seeds repeat the same pairs.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence
from itertools import chain, zip_longest

from promptlearn.errors import PromptlearnError

#: SetFit's ``sampling_strategy`` values
SAMPLING_STRATEGIES = ("oversampling", "undersampling", "unique")
#: a pair: (index of the first example, index of the second, 1.0 same label / 0.0 different)
Pair = tuple[int, int, float]


def check_sampling(strategy: str, iterations: int | None) -> None:
    """Raise a user-facing error for an unknown strategy or a non-positive ``iterations``."""
    if strategy not in SAMPLING_STRATEGIES:
        raise PromptlearnError(f"sampling must be one of {', '.join(SAMPLING_STRATEGIES)}, got {strategy!r}")
    if iterations is not None and iterations < 1:
        raise PromptlearnError(f"iterations must be at least 1, got {iterations}")


def sentence_pairs(
    labels: Sequence[Hashable], strategy: str = "oversampling", iterations: int | None = None, seed: int = 0
) -> list[Pair]:
    """The pairs of the examples whose labels are ``labels``, in training order (see the module docstring)."""
    check_sampling(strategy, iterations)
    n = len(labels)
    candidates = [(i, j) for i in range(n) for j in range(i, n)]
    random.Random(seed).shuffle(candidates)
    positives = [(i, j, 1.0) for i, j in candidates if labels[i] == labels[j]]
    negatives = [(i, j, 0.0) for i, j in candidates if labels[i] != labels[j]]
    if not negatives:
        raise PromptlearnError("setfit learns from pairs of different labels: the training set has only one label")
    if iterations is not None:
        count_pos = count_neg = iterations * n
    elif strategy == "unique":
        count_pos, count_neg = len(positives), len(negatives)
    else:
        pick = max if strategy == "oversampling" else min
        count_pos = count_neg = pick(len(positives), len(negatives))
    drawn = zip_longest(_cycle(positives, count_pos), _cycle(negatives, count_neg))
    return [pair for pair in chain.from_iterable(drawn) if pair is not None]


def _cycle(pairs: list[Pair], count: int) -> list[Pair]:
    """The first ``count`` of ``pairs`` repeated in order."""
    return [pairs[k % len(pairs)] for k in range(count)]
