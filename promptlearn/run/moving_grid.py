"""Grids that move: when the best candidate on dev sits at an edge of a searched range, try one value beyond it.

A fixed grid cannot say that its optimum lies outside it (issue 29: 30 of 30 ``pet`` runs on three 6-7-class
tasks kept the largest learning rate of the grid, and again when the grid was widened). After the grid's
candidates have trained, :func:`next_candidate` looks at the kept one (best dev accuracy, then macro-F1, then
grid order): if its value of an extendable key (:data:`EXTENDABLE`) is the smallest or the largest value tried
for that key, the next candidate is the kept one with that value moved one grid step further on a log scale
(the ratio of the two outermost values on that side: 1e-4, 3e-4 -> 9e-4). The search repeats until the kept
value is inside the range or ``limit`` values were added; the run records each added value (``extended``).
A key searched at one value has no step to repeat and is never extended.
"""

from __future__ import annotations

import math

#: the searched keys a range may grow along, the training length counted in steps and the learning rate
EXTENDABLE = ("learning_rate", "max_steps")


def next_candidate(tried: list[dict], kept: dict, scores: list | None = None) -> dict | None:
    """The candidate one log-scale step beyond the range of ``tried`` along the first key of :data:`EXTENDABLE`
    at whose edge ``kept`` sits, or None when ``kept`` is inside every range (or no key can be extended).

    ``tried``: every candidate trained so far (key -> value); ``kept``: the one the search keeps; ``scores``: each
    tried candidate's dev score, when known. With scores, the range grows only where ``kept`` beats the next value
    inward: a tie on a small dev set (every candidate at 50 %) says nothing about what lies beyond the edge.
    """
    for key in EXTENDABLE:
        values = sorted({candidate[key] for candidate in tried if key in candidate})
        if key not in kept or len(values) < 2 or values[0] <= 0:
            continue
        if kept[key] == values[-1]:
            value, inward = values[-1] * values[-1] / values[-2], values[-2]
        elif kept[key] == values[0]:
            value, inward = values[0] * values[0] / values[1], values[1]
        else:
            continue
        if scores is not None and not _beats(kept, key, inward, tried, scores):
            continue
        value = max(1, round(value)) if isinstance(kept[key], int) else float(f"{value:.3g}")
        if value not in values and math.isfinite(value):
            return kept | {key: value}
    return None


def _beats(kept: dict, key: str, inward, tried: list[dict], scores: list) -> bool:
    """Whether ``kept`` scores above the candidate that differs from it only in ``key``, set to ``inward``."""
    kept_score = scores[tried.index(kept)]
    neighbour = kept | {key: inward}
    return neighbour not in tried or kept_score > scores[tried.index(neighbour)]
