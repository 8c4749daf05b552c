"""The pipeline's data on disk: the K-shot split, the unlabelled pool, and each component's data folder.

Every component trains through :func:`promptlearn.api.train` on a data folder of its own
(``train.jsonl``, ``dev.jsonl``, ``test.jsonl`` with columns ``text``, ``text_b``, ``label``), so its
``config.json`` re-runs it exactly (``promptlearn train --config``). The pool keeps the hidden gold
label of pool examples drawn from a labelled train split (``hidden_label``), read only to report how
good the ensemble's labels are, never to train.
"""

from __future__ import annotations

import json
from pathlib import Path

from promptlearn import api
from promptlearn.data.examples import Example, TaskData
from promptlearn.outputs import DATA, staged_folder, to_json, write_text_atomic
from promptlearn.pet.config import PetConfig
from promptlearn.tasks.base import TaskShape

#: the pool is split "pool" of the pipeline's data folder: data/pool.jsonl (labels under hidden_label)
POOL = "pool"


def sampled_split(config: PetConfig, data: TaskData, shape: TaskShape) -> tuple[list[Example], list[Example]]:
    """The labelled (train, dev) examples: the run's K-shot sample as ``train`` draws it for the task ``shape``
    (single-label: K per label each, LM-BFF), none for zero-shot iPET."""
    base = config.base
    if config.zero_shot:
        return [], []
    return shape.few_shot(data, base.shots, base.seed, base.dev_split)


def unlabeled_pool(config: PetConfig, data: TaskData, used: list[Example]) -> list[Example]:
    """The pool: the run's unlabeled examples (:func:`promptlearn.api.unlabeled_pool`: ``config.unlabeled``'s,
    else the train split without the texts of ``used``, the K shots and dev, compared by content), cut to
    ``config.max_unlabeled`` by a seeded sample, in the original order; labels are kept (as hidden gold,
    see the module docstring)."""
    return api.unlabeled_pool(config.base.replace(unlabeled=config.unlabeled), data, used, config.max_unlabeled)


def rows_text(examples: list[Example], label_key: str = "label") -> str:
    """JSON lines with ``text``, ``text_b`` (pairs only) and the label under ``label_key``."""
    lines = []
    for ex in examples:
        row = {"text": ex.text_a}
        if ex.text_b is not None:
            row["text_b"] = ex.text_b
        row[label_key] = ex.label
        lines.append(to_json(row, indent=None) + "\n")
    return "".join(lines)


def write_pool(folder: Path, pool: list[Example]) -> None:
    write_text_atomic(folder / f"{POOL}.jsonl", rows_text(pool, label_key="hidden_label"))


def read_hidden_labels(path: Path) -> list[str | None]:
    return [row.get("hidden_label") for row in _rows(path)]


def write_data_folder(folder: Path, splits: dict[str, list[Example]]) -> None:
    """A data folder of JSON-lines splits, written whole or not at all (an empty split is left out)."""
    with staged_folder(folder, overwrite=True, kind=DATA) as staging:
        for name, examples in splits.items():
            if examples:
                (staging / f"{name}.jsonl").write_text(rows_text(examples), encoding="utf-8")


def read_split(folder: Path, name: str) -> list[Example]:
    """Split ``name`` of a folder written by :func:`write_data_folder` ([] when it was empty)."""
    path = folder / f"{name}.jsonl"
    if not path.is_file():
        return []
    return [Example(r["text"], r.get("text_b"), r.get("label")) for r in _rows(path)]


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
