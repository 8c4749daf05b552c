"""What a PET pipeline has settled: its settings, its examples and the generations trained so far.

The pipeline builds a :class:`PetState` once its data is sampled (or read back), adds each generation
as it is trained, and hands the finished state to distillation and the summary. Those read only this
state and the files under its ``root``, never the pipeline, so the pipeline imports them and not the
other way round, and either can run on a state made by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from promptlearn.data.examples import Example
from promptlearn.pet.config import PetConfig
from promptlearn.pet.ensemble import log_probs, merge, soften
from promptlearn.pet.members import Labels, Member
from promptlearn.run.config import RunConfig
from promptlearn.tasks import TaskShape, get_shape


@dataclass(frozen=True)
class PetState:
    """A pipeline in ``root``: ``config``, ``base`` (its anchored run template, ``labels`` in verbalizer
    order), the original labelled ``train`` and ``dev`` examples, the ``test`` split, the unlabelled
    ``pool`` with its hidden gold labels (``pool_gold``, None where unknown), and the members of each
    generation trained so far (the labels files of each under ``root``)."""

    config: PetConfig
    base: RunConfig
    root: Path
    train: tuple[Example, ...]
    dev: tuple[Example, ...]
    test: tuple[Example, ...]
    pool: tuple[Example, ...]
    pool_gold: tuple[str | None, ...]
    generations: tuple[tuple[Member, ...], ...] = ()

    @property
    def labels(self) -> list[str]:
        return self.base.labels

    def with_generation(self, members: list[Member]) -> PetState:
        """This state with ``members`` (all trained and labelled) as its next generation."""
        return replace(self, generations=(*self.generations, tuple(members)))

    def label_shares(self) -> np.ndarray:
        """The label distribution iPET keeps: the original examples', uniform without any."""
        counts = np.array([sum(ex.label == label for ex in self.train) for label in self.labels], dtype=np.float64)
        return counts if counts.sum() else np.ones(len(self.labels))

    @property
    def shape(self) -> TaskShape:
        """The task shape of every component run, bound to the labels (regression: its range)."""
        return get_shape(self.base.task_type).bind(self.labels)

    def ensemble(self, members: tuple[Member, ...] | list[Member], split: str) -> np.ndarray:
        """The merged (N, C) logits of ``members`` on ``split`` (pool, dev or test), by the configured reduction.

        A shape that merges probabilities (:attr:`~promptlearn.tasks.base.TaskShape.merges_probabilities`:
        multi-label, regression) gets the log of the members' (weighted) mean probabilities; when no member
        scores above 0 on what wmean weighs by, the plain mean."""
        stored = [Labels.load(m.labels_file(self.root)) for m in members]
        weights = None
        if self.config.reduction == "wmean":
            weights = [self._weight(m, labels) for m, labels in zip(members, stored, strict=True)]
        logits = [labels.logits[split] for labels in stored]
        if not self.shape.merges_probabilities:
            return merge(logits, weights)
        weights = weights if weights is not None and sum(weights) > 0 else None
        return log_probs(merge([np.exp(member) for member in logits], weights))

    def probabilities(self, members: tuple[Member, ...] | list[Member], split: str) -> np.ndarray:
        """The ensemble's (N, C) probabilities on ``split``: softmax of the merged logits, or (a shape that merges
        probabilities) the merged probabilities themselves."""
        logits = self.ensemble(members, split)
        return np.exp(logits) if self.shape.merges_probabilities else soften(logits)

    def decision(self, members: tuple[Member, ...] | list[Member]) -> dict | None:
        """The shape's decision rule (multi-label: the threshold) for ``members``' ensemble, fitted on dev."""
        if self.shape.decision_file is None or not self.dev:
            return None
        index = {label: i for i, label in enumerate(self.labels)}
        gold = [self.shape.target(ex.label, index) for ex in self.dev]
        return self.shape.choose_decision(gold, self.probabilities(members, "dev"))

    def _weight(self, member: Member, labels: Labels) -> float:
        if self.config.weights_from == "train":
            return labels.prior_accuracy
        metrics = member.run_dir(self.root) / "metrics.json"
        return max(json.loads(metrics.read_text(encoding="utf-8"))["dev"][self.shape.selection_metric], 0.0)
