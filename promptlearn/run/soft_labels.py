"""Soft labels for distillation: one distribution over the labels per training example, read from a file.

The file (``RunConfig.soft_labels``) holds one JSON list per line, in the order of the train split's
examples and of ``RunConfig.labels``, e.g. ``[0.82, 0.18]``; PET's pipeline writes it
(``data/final/soft_labels.jsonl``). A run with soft labels learns them through the objective's KL
loss at ``RunConfig.temperature`` (:class:`promptlearn.training.objective.Objective`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from promptlearn.errors import PromptlearnError

#: how far a row's sum may be from 1 (the file stores rounded probabilities)
TOLERANCE = 1e-4


def read_soft_labels(path: str | Path, count: int, num_labels: int) -> list[list[float]]:
    """``count`` rows of ``num_labels`` probabilities each; anything else is an error naming the line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise PromptlearnError(f"Cannot read the soft labels {path}: {err}") from err
    if len(lines) != count:
        raise PromptlearnError(
            f"{path} holds {len(lines)} soft labels, but the train split has {count} examples: "
            "one line per training example, in the same order"
        )
    rows = []
    for number, line in enumerate(lines, start=1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        valid = isinstance(row, list) and len(row) == num_labels
        valid = valid and all(isinstance(p, int | float) and math.isfinite(p) and p >= 0 for p in row)
        if not valid or abs(sum(row) - 1) > TOLERANCE:
            raise PromptlearnError(
                f"{path}, line {number}: expected a list of {num_labels} non-negative probabilities summing to 1, "
                f"got {line[:80]!r}"
            )
        rows.append([float(p) for p in row])
    return rows
