"""One model for several tasks: a :class:`~promptlearn.model.prompt_model.PromptModel` per task, their
parameters tied so that what is shared is one tensor.

Each task's PromptModel is built as a single-task run builds it (its own PVP, label words and mode
instance) on a copy of one loaded backbone; then every parameter that belonged to the backbone before
the mode attached (the encoder, the MLM head: frozen, or trained by ``pet`` / ``bitfit``) is replaced by
the first task's, and so is every parameter the mode added (soft prompt, prompt encoder, LoRA, adapters,
heads) when ``share="all"`` and the shapes agree. A batch names its task and runs through that task's
PromptModel; every mode works unchanged, and with ``share="task"`` a task's own parameters get no gradient
from another task's batches, so they stay bit-identical while it is not trained.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from promptlearn.model.prompt_model import PromptModel
from promptlearn.modes.base import Mode


class MultiTaskModel(nn.Module):
    """Task name -> PromptModel (``tasks``), tied as the module docstring says; ``mode`` is :class:`TaskModes`."""

    def __init__(self, models: dict[str, PromptModel], base_ids: set[int], share: str):
        super().__init__()
        self.tasks = nn.ModuleDict(models)
        self.shared = tie(models, base_ids, share)
        self.__dict__["mode"] = TaskModes(self)  # a view of the tasks' modes, not a submodule

    def forward(self, batch: dict) -> torch.Tensor:
        """Class scores (B, C_task) of a batch of one task (``batch["task"]`` names it)."""
        return self.tasks[batch["task"]]({k: v for k, v in batch.items() if k != "task"})

    def trainable_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def total_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def task_state(self, task: str) -> dict[str, torch.Tensor]:
        """The trained tensors task ``task`` computes with, by their name in its own PromptModel."""
        return {name: p.detach() for name, p in self.tasks[task].named_parameters() if p.requires_grad}


def parameter_ids(backbone: nn.Module) -> set[int]:
    """Who ``backbone``'s own parameters are, taken before a mode attaches (peft renames the ones it wraps)."""
    return {id(p) for p in backbone.parameters()}


def copies(backbone: nn.Module, count: int) -> list[nn.Module]:
    """``backbone`` and ``count - 1`` deep copies, one per task (tied again after the modes attach)."""
    return [backbone] + [copy.deepcopy(backbone) for _ in range(count - 1)]


def tie(models: dict[str, PromptModel], base_ids: set[int], share: str) -> list[str]:
    """Make every task's shared parameters the first task's; returns the shared names (first task's names).

    A parameter is shared when it was the first task's backbone's before its mode attached (``base_ids``:
    :func:`parameter_ids`, whatever name the mode gave it since) or, with ``share="all"``, whenever the first
    task has one of that name and shape.
    """
    first, *others = models.values()
    own = dict(first.named_parameters(remove_duplicate=False))
    shared = sorted(name for name, param in own.items() if share == "all" or id(param) in base_ids)
    for model in others:
        theirs = dict(model.named_parameters(remove_duplicate=False))
        for name in shared:
            if name in theirs and theirs[name].shape == own[name].shape:
                owner, _, leaf = name.rpartition(".")
                setattr(model.get_submodule(owner), leaf, own[name])
    return shared


class TaskModes:
    """What the trainer asks of a model's mode, answered for every task at once.

    Parameter groups are the tasks' modes' groups merged by name, each parameter once (a shared one is in
    every task's groups); only the parameters the model holds count (a mode may keep a list of parameters
    that tying replaced).
    """

    def __init__(self, model: MultiTaskModel):
        self.model = model

    @property
    def first(self) -> Mode:
        return next(iter(self.model.tasks.values())).mode

    @property
    def name(self) -> str:
        return self.first.name

    def fit(self, model, trainer, train: list, dev: list) -> None:
        """Every task trains in the trainer's loop (:func:`~promptlearn.multitask.pipeline.build` refuses a mode
        that trains in stages of its own)."""
        return None

    def param_groups(self, model: MultiTaskModel, learning_rate: float | None, weight_decay: float = 0.0) -> list[dict]:
        held = {id(p) for p in model.parameters()}
        merged: dict[str, dict] = {}
        seen: set[int] = set()
        for task in model.tasks.values():
            for group in task.mode.param_groups(task, learning_rate, weight_decay):
                fresh = [p for p in group["params"] if id(p) in held and id(p) not in seen]
                seen.update(id(p) for p in fresh)
                target = merged.setdefault(group["name"], {**group, "params": []})
                target["params"].extend(fresh)
        return [group for group in merged.values() if group["params"]]
