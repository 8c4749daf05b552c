"""The multi-task trainer: the single-task :class:`~promptlearn.training.trainer.Trainer`'s loop, with batches
that each hold one task's examples (mixed by :class:`~promptlearn.multitask.sampling.TaskMixture`) and an
evaluation that scores every task on its own dev examples.

The loop itself (accumulation, clipping, schedule, best-on-dev weights, early stopping, divergence checks)
is the Trainer's; this class changes only what a batch is and what "dev accuracy" means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader

from promptlearn.multitask.config import MEAN
from promptlearn.multitask.model import MultiTaskModel
from promptlearn.multitask.sampling import TaskMixture
from promptlearn.prompt.pvp import PVP, Encoded
from promptlearn.training.metrics import classification_metrics
from promptlearn.training.trainer import Trainer, TrainingSettings


@dataclass(frozen=True)
class TaskItem:
    """One encoded example of task ``task``."""

    task: str
    encoded: Encoded


class MultiTaskTrainer(Trainer):
    """Trains a :class:`MultiTaskModel` on :class:`TaskItem` lists.

    ``probabilities``: p_t of each task's batches; ``select``: :data:`~promptlearn.multitask.config.MEAN` (the
    weights kept are those best on the mean of the tasks' dev accuracies) or a task name (best on its).
    """

    def __init__(
        self,
        model: MultiTaskModel,
        pvps: dict[str, PVP],
        config: TrainingSettings,
        probabilities: dict[str, float],
        select: str = MEAN,
    ):
        self.pvps = pvps
        self.probabilities = probabilities
        self.select = select
        super().__init__(model, self.collate_items, config)

    def collate_items(self, items: list[TaskItem]) -> dict:
        task = items[0].task
        return self.pvps[task].collate([item.encoded for item in items]) | {"task": task}

    def loader(self, train: list[TaskItem], generator: torch.Generator) -> DataLoader:
        names = list(self.pvps)
        tasks = [names.index(item.task) for item in train]
        rates = [self.probabilities.get(name, 0.0) for name in names]  # a task absent from a stage: never drawn
        mixture = TaskMixture(tasks, self.config.batch_size, rates, generator)
        return DataLoader(train, batch_sampler=mixture, collate_fn=self.collate)

    def predict_task(self, task: str, examples: list[Encoded]) -> np.ndarray:
        """Class probabilities (N, C_task) of task ``task``'s encoded ``examples``."""
        return self.probabilities_of(self.model.tasks[task], self.pvps[task].collate, examples)

    def evaluate(self, items: list[TaskItem]) -> dict:
        """Every task's accuracy and macro-F1 (``tasks``); ``accuracy`` and ``macro_f1`` are their means, or the
        selected task's accuracy (what the best-on-dev weights are chosen on)."""
        tasks = {}
        for task in dict.fromkeys(item.task for item in items):
            encoded = [item.encoded for item in items if item.task == task]
            probs = self.predict_task(task, encoded)
            gold = [e.label for e in encoded]
            tasks[task] = classification_metrics(gold, probs.argmax(axis=1), len(self.pvps[task].labels))
        metrics = {key: float(np.mean([m[key] for m in tasks.values()])) for key in ("accuracy", "macro_f1")}
        if self.select != MEAN and self.select in tasks:
            metrics["accuracy"] = tasks[self.select]["accuracy"]
        return metrics | {"tasks": tasks}


class TaskView:
    """One task of a multi-task trainer, as :class:`~promptlearn.run.prompted.Prompted` uses a trainer."""

    def __init__(self, trainer: MultiTaskTrainer, task: str):
        self.trainer, self.task = trainer, task
        self.accelerator = trainer.accelerator

    def predict_proba(self, examples: list[Encoded]) -> np.ndarray:
        return self.trainer.predict_task(self.task, examples)
