"""Objective: what training minimises, and probabilities, from class scores.

The scores come from the readout a mode declares (:func:`promptlearn.readout.scores.class_scores`, which
:class:`~promptlearn.model.prompt_model.PromptModel` calls on the encoder's hidden states): the label
words at the mask(s), or the mode's head.

The :class:`~promptlearn.training.trainer.Trainer` knows nothing of cloze questions: it asks the objective
for the loss of a batch (:meth:`Objective.training_loss`) and for class probabilities
(:meth:`Objective.probabilities`), from class scores (B, C) of either scoring alike.

- Hard labels: the task shape's loss on ``batch["labels"]`` (:mod:`promptlearn.tasks`; single-label:
  cross-entropy, multi-label: binary cross-entropy).
- Soft targets (``batch["soft_targets"]``, (B, C) probabilities, e.g. an ensemble's): the shape's
  :meth:`~promptlearn.tasks.base.TaskShape.soft_loss`, by default the KL divergence from them to the scores
  softened by ``temperature``, times T² so that gradients keep their scale whatever T (Hinton et al. 2015;
  PET's distillation uses T = 2); multi-label: BCE per label; a regression head: MSE to the averaged score.
- Auxiliary masked-LM loss (PET): ``loss = (1 - w) * task + w * MLM`` on a batch of unlabelled
  text per step (:class:`~promptlearn.training.aux_mlm.MlmBatches`), ``w = aux_mlm_weight``.
- ``task_loss``: a loss of its own in place of cross-entropy, given the model and the batch (ADAPET's,
  :class:`~promptlearn.training.adapet.Adapet`); ``contrastive``: a term added to the task loss (the
  supervised contrastive term at [MASK], :class:`~promptlearn.training.supcon.SupervisedContrastive`).

:meth:`Objective.probabilities` turns scores into uncalibrated probabilities; calibration and the
averaging over demonstration draws belong to the run's prediction path,
:meth:`promptlearn.api.Prompted.predict_proba`, which every reported number goes through.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from promptlearn.errors import PromptlearnError
from promptlearn.tasks import TaskShape, get_shape
from promptlearn.training.aux_mlm import MlmBatches

#: an objective term: (the unwrapped model, a training batch) -> a scalar loss
Term = Callable[[nn.Module, dict[str, torch.Tensor]], torch.Tensor]


class Objective:
    """Loss and probabilities of class scores, as the run's task ``shape`` defines them; holds no parameters."""

    def __init__(
        self,
        temperature: float = 1.0,
        aux_mlm_weight: float = 0.0,
        mlm_batches: MlmBatches | None = None,
        shape: TaskShape | None = None,
        task_loss: Term | None = None,
        contrastive: Term | None = None,
    ):
        if temperature <= 0:
            raise PromptlearnError(f"The distillation temperature must be positive, got {temperature}")
        if not 0 <= aux_mlm_weight < 1:
            raise PromptlearnError(f"--aux-mlm-weight must be in [0, 1), got {aux_mlm_weight}")
        if aux_mlm_weight and mlm_batches is None:
            raise PromptlearnError("--aux-mlm-weight needs unlabelled text (the train split's, or --unlabeled FILE)")
        self.temperature = temperature
        self.aux_mlm_weight = aux_mlm_weight
        self.mlm_batches = mlm_batches if aux_mlm_weight else None
        self.shape = shape if shape is not None else get_shape(None)
        self.task_loss = task_loss
        self.contrastive = contrastive

    def loss(self, scores: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Scores (B, C) -> the task loss: the shape's soft-target loss (a KL at the temperature) on ``soft_targets``
        if given, else the shape's loss on the labels."""
        scores = scores.float()
        targets = batch.get("soft_targets")
        if targets is None:
            return self.shape.loss(scores, batch["labels"])
        return self.shape.soft_loss(scores, targets, self.temperature)

    def training_loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The loss to minimise for one training batch: the task loss, mixed with the auxiliary MLM loss."""
        inner = getattr(model, "module", model)  # unwrapped under distributed training
        task = self.loss(model(batch), batch) if self.task_loss is None else self.task_loss(inner, batch)
        if self.contrastive is not None:
            task = task + self.contrastive(inner, batch)
        if self.mlm_batches is None:
            return task
        mlm = {k: v.to(task.device) for k, v in self.mlm_batches.next().items()}
        auxiliary = inner.mlm_loss(mlm)
        return (1 - self.aux_mlm_weight) * task + self.aux_mlm_weight * auxiliary

    def probabilities(self, scores: torch.Tensor) -> torch.Tensor:
        """Class probabilities (B, C) from scores (B, C): the seam where calibration applies."""
        return self.shape.probabilities(scores)
