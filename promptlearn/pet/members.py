"""The models of a PET pipeline, where each keeps its files, and how each is trained and read.

A member is one model of one generation: pattern p x repetition r (``g0/p0-r1``), or in zero-shot
iPET's generation 0 an untrained pattern (``g0/p0-untrained``). Its components, each skipped on a
restart when its file exists:

- the run folder ``g<g>/<name>/`` (:func:`promptlearn.api.train`, written whole or not at all);
- ``g<g>/<name>.labels.npz``: its log-probabilities on the pool, dev and test (one length-sorted
  pass each, tokenized once per pattern) and its accuracy on its training set before training.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from promptlearn import api
from promptlearn.config import RunConfig
from promptlearn.data import Example
from promptlearn.outputs import write_bytes_atomic
from promptlearn.pet.ensemble import log_probs

logger = logging.getLogger(__name__)

SPLITS = ("pool", "dev", "test")


@dataclass(frozen=True)
class Member:
    """Model ``repetition`` of pattern ``pattern`` (an index) in ``generation``; repetition None: untrained."""

    generation: int
    pattern: int
    repetition: int | None

    @property
    def name(self) -> str:
        return f"p{self.pattern}-" + ("untrained" if self.repetition is None else f"r{self.repetition}")

    def run_dir(self, root: Path) -> Path:
        return root / f"g{self.generation}" / self.name

    def labels_file(self, root: Path) -> Path:
        return root / f"g{self.generation}" / f"{self.name}.labels.npz"

    def data_dir(self, root: Path) -> Path:
        return root / "data" / f"g{self.generation}-{self.name}"

    def is_other_than(self, member: Member) -> bool:
        """Whether this (previous-generation) model may label ``member``'s data: not its own predecessor."""
        same_repetition = self.repetition is None or self.repetition == member.repetition
        return not (self.pattern == member.pattern and same_repetition)


@dataclass
class Labels:
    """A member's (N, C) log-probabilities per split, and its accuracy on its training set before training."""

    logits: dict[str, np.ndarray]
    prior_accuracy: float

    def save(self, path: Path) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, prior_accuracy=np.float64(self.prior_accuracy), **self.logits)
        write_bytes_atomic(path, buffer.getvalue())

    @classmethod
    def load(cls, path: Path) -> Labels:
        with np.load(path) as stored:
            return cls({s: stored[s] for s in SPLITS}, float(stored["prior_accuracy"]))


class EncodingCache:
    """Pool, dev and test tokenized once per pattern, shared by every member that uses the pattern."""

    def __init__(self, splits: dict[str, list[Example]]):
        self.splits = splits
        self._encoded: dict[str, dict] = {}

    def encoded(self, run: api.Prompted) -> dict:
        key = run.config.pattern
        if key not in self._encoded:
            # an empty split (zero-shot iPET's dev) stays empty: the tokenizer refuses an empty batch
            encoded = {name: run.pvp.encode(examples) if examples else [] for name, examples in self.splits.items()}
            self._encoded[key] = encoded
        return self._encoded[key]


def label_with(run: api.Prompted, cache: EncodingCache, train: list[Example], prior_from_train: bool) -> Labels:
    """``run``'s log-probabilities on the cached splits; with ``prior_from_train``, the accuracy of the
    *untrained* model of ``run.config`` on ``train`` (PET's wmean weight), else NaN."""
    logits = {name: log_probs(run.trainer.predict_proba(enc)) for name, enc in cache.encoded(run).items()}
    prior = float("nan")
    if prior_from_train and train:
        untrained = api.build(run.config)
        prior = untrained.trainer.evaluate(untrained.pvp.encode(train))["accuracy"]
    return Labels(logits, prior)


def train_member(config: RunConfig, run_dir: Path) -> None:
    """Train one member into ``run_dir`` unless a finished run is there (resumption)."""
    if (run_dir / "metrics.json").is_file():
        logger.info("PET: %s is done, skipped", run_dir)
        return
    logger.info("PET: training %s", run_dir)
    api.train(config, run_dir, overwrite=True)
