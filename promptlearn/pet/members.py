"""The models of a PET pipeline, where each keeps its files, and how each is trained and read.

A member is one model of one generation: pattern p x repetition r (``g0/p0-r1``), or in zero-shot
iPET's generation 0 an untrained pattern (``g0/p0-untrained``). Its components, each skipped on a
restart when its file exists:

- the run folder ``g<g>/<name>/`` (:func:`promptlearn.api.train`, written whole or not at all);
- ``g<g>/<name>.labels.npz``: its log-probabilities on the pool, dev and test, through the run's own
  ``predict_proba`` (demonstrations averaged, calibrated; one length-sorted pass each, tokenized once
  per encoding), and PET's wmean weight: its accuracy on the original labelled examples before training.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from promptlearn import api
from promptlearn.data.examples import Example
from promptlearn.outputs import to_json, write_bytes_atomic
from promptlearn.pet.ensemble import log_probs
from promptlearn.run.config import RunConfig

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
    """A member's (N, C) log-probabilities per split, and its accuracy on the original labelled examples
    before training (NaN when not weighed that way)."""

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
    """Pool, dev and test tokenized once per encoding, shared by every member whose inputs encode alike.

    The key is everything a run's inputs are encoded from (:func:`encoding_key`). Inputs with
    demonstrations are never shared: each member draws its own (from its training examples, with its
    seed, ``similar`` ones by its own model) and anew for each of its draws, so
    :meth:`~promptlearn.api.Prompted.predict_proba` encodes them itself.
    """

    def __init__(self, splits: dict[str, list[Example]]):
        self.splits = splits
        self._encoded: dict[str, dict[str, list]] = {}

    def probabilities(self, run: api.Prompted) -> dict[str, np.ndarray]:
        """``run``'s (N, C) class probabilities per split, by :meth:`~promptlearn.api.Prompted.predict_proba`
        (demonstration draws averaged, then calibrated): the numbers the run itself reports."""
        encoded = self._encoded_for(run)
        return {
            name: run.predict_proba(examples, None if encoded is None else encoded[name])
            for name, examples in self.splits.items()
        }

    def _encoded_for(self, run: api.Prompted) -> dict[str, list] | None:
        if run.pvp.demonstrations is not None:
            return None
        key = encoding_key(run.config)
        if key not in self._encoded:
            # an empty split (zero-shot iPET's dev) stays empty: the tokenizer refuses an empty batch
            self._encoded[key] = {name: run.pvp.encode(ex) if ex else [] for name, ex in self.splits.items()}
        return self._encoded[key]


def encoding_key(config: RunConfig) -> str:
    """What a run's encoded inputs depend on: the settings :func:`~promptlearn.api.build_pvp` reads
    (tokenizer, the mode's changes to the pattern, the pattern, label words and their order, the length)."""
    fields = ("model", "mode", "mode_options", "pattern", "verbalizer", "labels", "max_length")
    return to_json({name: getattr(config, name) for name in fields}, indent=None)


def label_with(run: api.Prompted, cache: EncodingCache, weighed_on: list[Example]) -> Labels:
    """``run``'s log-probabilities on the cached splits; with ``weighed_on`` (the original labelled
    examples), PET's wmean weight: the accuracy there of the untrained model of ``run.config``
    (:func:`untrained_run`), else NaN. Other task shapes weigh by the metric their runs are selected by
    (multi-label: micro-F1, regression: Pearson), a negative correlation counting as 0."""
    logits = {name: log_probs(probabilities) for name, probabilities in cache.probabilities(run).items()}
    prior = float("nan")
    if weighed_on:
        untrained = untrained_run(run.config, weighed_on, [])
        prior = max(untrained.evaluate(weighed_on)[untrained.pvp.shape.selection_metric], 0.0)
    return Labels(logits, prior)


def untrained_run(config: RunConfig, labelled: list[Example], unlabeled: list[Example]) -> api.Prompted:
    """The untrained model of ``config``, predicting as a trained run of it would: demonstrations drawn
    from ``labelled``, calibrated as ``config`` says (``unlabeled`` texts, else ``labelled``'s, as
    :func:`~promptlearn.api.fit` does)."""
    run = api.build(config)
    api.use_demonstrations(run, labelled)
    api.calibrate(run, unlabeled or labelled)
    return run


def train_member(config: RunConfig, run_dir: Path) -> None:
    """Train one member into ``run_dir`` unless a finished run is there (resumption)."""
    if (run_dir / "metrics.json").is_file():
        logger.info("PET: %s is done, skipped", run_dir)
        return
    logger.info("PET: training %s", run_dir)
    api.train(config, run_dir, overwrite=True)
