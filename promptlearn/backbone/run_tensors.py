"""The trained tensors of another run, for ``init=run:PATH`` (prompt transfer, SPoT: Vu et al. 2022).

``run:PATH`` names a run folder (its ``weights.safetensors``); ``run:PATH#TASK`` one task of a multi-task run
folder, whose weights store each shared tensor once and list, in their metadata (:data:`TASK_TENSORS`), the
stored name of every tensor a task computes with under its name in a single-task model. Either way the
tensors come back by their name in a single-task :class:`~promptlearn.model.prompt_model.PromptModel`, so a
mode can take the ones it trains (:func:`initialise_from_run`).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from promptlearn.errors import PromptlearnError

WEIGHTS = "weights.safetensors"
#: the file that makes a run folder a multi-task one (written by promptlearn.multitask.folder)
MULTITASK_FILE = "multitask.json"
#: safetensors metadata key of a multi-task run: {task: {name in the task's model: stored name}} (JSON)
TASK_TENSORS = "task_tensors"
PREFIX = "run:"


def check_run_spec(spec: str) -> None:
    """Refuse a ``run:PATH[#TASK]`` whose folder has no weights (checked before any model loads)."""
    folder, _, _ = spec.removeprefix(PREFIX).partition("#")
    if not (Path(folder) / WEIGHTS).is_file():
        raise PromptlearnError(f"init={spec}: {folder} is not a trained run folder (no {WEIGHTS})")


def run_tensors(spec: str) -> dict[str, torch.Tensor]:
    """The trained tensors of ``run:PATH`` or ``run:PATH#TASK``, by their name in a single-task model."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    check_run_spec(spec)
    folder, _, task = spec.removeprefix(PREFIX).partition("#")
    path = Path(folder) / WEIGHTS
    with safe_open(path, "pt") as handle:
        metadata = handle.metadata() or {}
    state = load_file(path)
    multitask = (Path(folder) / MULTITASK_FILE).is_file()
    if not multitask:
        if task:
            raise PromptlearnError(f"init={spec}: {folder} is a single-task run; leave out #{task}")
        return state
    tasks = json.loads(metadata[TASK_TENSORS])
    if task not in tasks:
        raise PromptlearnError(f"init={spec}: {folder} is a multi-task run; name one of its tasks: #{'|#'.join(tasks)}")
    return {own: state[stored] for own, stored in tasks[task].items()}


def initialise_from_run(
    model: torch.nn.Module, spec: str, params: list[torch.nn.Parameter], what: str, scope: str | None = None
) -> None:
    """Copy into ``params`` (parameters of ``model``, a PromptModel) the source run's tensors of the same names.

    Every one of ``params`` must be found with its shape: a transfer that silently left part of a prompt or a
    LoRA at its fresh values would measure something else. With ``scope`` (the name prefix of what is
    transferred, ``mode.adapters.``), the source may hold no tensor there beyond ``params``: Houlsby adapters
    (two a layer) must not start Pfeiffer ones (one a layer) from their first half.
    """
    source = run_tensors(spec)
    names = {id(p): name for name, p in model.named_parameters(remove_duplicate=False)}
    wanted = {names[id(param)] for param in params}
    missing = []
    wrong = [f"{name}: not in this run" for name in source if scope and name.startswith(scope) and name not in wanted]
    with torch.no_grad():
        for param in params:
            name = names[id(param)]
            if name not in source:
                missing.append(name)
            elif source[name].shape != param.shape:
                wrong.append(f"{name}: stored {tuple(source[name].shape)}, here {tuple(param.shape)}")
            else:
                param.copy_(source[name].to(param.dtype))
    if missing or wrong:
        problems = "; ".join(wrong[:3] + [f"no {name}" for name in missing[:3]])
        raise PromptlearnError(
            f"init={spec} cannot start this run's {what}: {problems}. Transfer from a run of the same mode and "
            "options (prompt length, rank, targets) on the same base model."
        )
