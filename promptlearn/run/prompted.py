"""A built run: the model, the PVP that feeds it and the trainer that runs it, and how one is built."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from accelerate.utils import set_seed

from promptlearn.backbone.loading import load_backbone
from promptlearn.data.examples import Example, TaskData
from promptlearn.errors import PromptlearnError
from promptlearn.model.prompt_model import PromptModel
from promptlearn.prompt.pvp import PVP, Encoded
from promptlearn.run import calibration, speed
from promptlearn.run.config import RunConfig
from promptlearn.run.pvp import build_pvp
from promptlearn.training.objective import Objective
from promptlearn.training.trainer import Trainer


@dataclass
class Prompted:
    """A built model with the PVP that feeds it and the trainer that runs it.

    ``calibration``: the bias vector (C,) that :meth:`predict_proba` divides out (see
    :mod:`promptlearn.run.calibration`), None when the run is not calibrated. ``decision``: the task shape's
    rule fitted on dev (multi-label: the threshold, see :mod:`promptlearn.run.task_shape`), None when it has none.
    """

    config: RunConfig
    pvp: PVP
    model: PromptModel
    trainer: Trainer
    calibration: np.ndarray | None = None
    decision: dict | None = None

    def predict_proba(self, examples: list[Example], encoded: list[Encoded] | None = None) -> np.ndarray:
        """Class probabilities (N, C): averaged over the demonstration draws, then calibrated.

        ``encoded``: ``examples`` already encoded by this PVP (a cache), used only without demonstrations.
        This is the one path from a run to the numbers it reports (``evaluate``, ``predict``, ``fewshot``,
        PET's member labels, ensembles and soft labels): calibration lives here, not in the objective.
        """
        if not examples:  # the tokenizer refuses an empty batch
            return np.zeros((0, len(self.pvp.labels)), dtype=np.float32)
        demonstrations = self.pvp.demonstrations
        if demonstrations is None:
            probs = self.trainer.predict_proba(encoded if encoded is not None else self.pvp.encode(examples))
        else:
            draws = [self.trainer.predict_proba(self.pvp.encode(examples, draw=d)) for d in range(demonstrations.sets)]
            probs = np.mean(draws, axis=0, dtype=np.float64).astype(np.float32)
        return calibration.apply(probs, self.calibration)

    def predict(self, examples: list[Example]) -> list[dict]:
        """One record per example: text, gold, prediction and per-label probabilities, as the task shape writes them."""
        labels, shape = self.pvp.labels, self.pvp.shape
        return [
            shape.record(ex, labels, row, self.decision)
            for ex, row in zip(examples, self.predict_proba(examples), strict=True)
        ]

    def evaluate(self, examples: list[Example]) -> dict:
        """The task shape's metrics (single-label: accuracy and macro-F1) on labelled ``examples``."""
        if any(ex.label is None for ex in examples):
            raise PromptlearnError("Evaluation needs a label on every example")
        index = {label: i for i, label in enumerate(self.pvp.labels)}
        unknown = sorted({name for ex in examples for name in _names(ex.label)} - set(index))
        if unknown and self.pvp.shape.labels_are_names:
            raise PromptlearnError(f"Labels {unknown} are not among this run's labels {self.pvp.labels}")
        gold = [self.pvp.shape.target(ex.label, index) for ex in examples]
        return self.pvp.shape.metrics(gold, self.predict_proba(examples), len(self.pvp.labels), self.decision)


def _names(label: str | tuple[str, ...]) -> tuple[str, ...]:
    return (label,) if isinstance(label, str) else label


def build(
    config: RunConfig,
    data: TaskData | None = None,
    backbone: torch.nn.Module | None = None,
    objective: Objective | None = None,
) -> Prompted:
    """Model, PVP and trainer for ``config``; ``data`` (when given) is checked against the PVP.

    ``backbone`` replaces loading ``config.model`` (e.g. a randomly initialised model of that config);
    ``objective``: the trainer's (default: cross-entropy on the labels).
    """
    config, pvp, model = build_model(config, data, backbone)
    objective = objective if objective is not None else Objective(shape=pvp.shape)
    return Prompted(config=config, pvp=pvp, model=model, trainer=Trainer(model, pvp.collate, config, objective))


def build_model(
    config: RunConfig, data: TaskData | None = None, backbone: torch.nn.Module | None = None
) -> tuple[RunConfig, PVP, PromptModel]:
    """The PVP and model of :func:`build`, before a trainer; ``config`` comes back with the PVP's label order."""
    mode, pvp = build_pvp(config, data)
    set_seed(config.seed)
    if backbone is None:
        backbone = load_backbone(config.model, mlm_head=mode.uses_verbalizer, encoder_only=mode.encoder_only)
    pvp.max_positions = usable_positions(backbone, pvp.tokenizer)
    outputs = pvp.shape.head_outputs(len(pvp.labels))
    model = PromptModel(backbone, mode, pvp.label_word_tokens, len(pvp.labels), pvp.tokenizer, outputs)
    model.decoding, model.word_score, model.word_masks = config.decoding, config.word_score, config.word_masks
    speed.apply(model, config, pvp.shape)
    return config.replace(labels=pvp.labels), pvp, model


def usable_positions(backbone: torch.nn.Module, tokenizer) -> int | None:
    """How many tokens an input may take: the model's positions, or fewer where its tokenizer says so
    (RoBERTa's 514 position rows hold 512 tokens); None when neither tells."""
    limits = [getattr(backbone.config, "max_position_embeddings", None), tokenizer.model_max_length]
    known = [int(n) for n in limits if n is not None and n < 1_000_000]  # transformers' "unknown" is 1e30
    return min(known, default=None)
