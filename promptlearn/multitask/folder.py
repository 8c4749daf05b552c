"""The multi-task run folder: one folder, staged and renamed into place like every run folder.

It holds ``multitask.json`` (the :class:`~promptlearn.multitask.config.MultiTaskOptions` and the task order),
``tasks/NAME/config.json`` (each task's RunConfig) and ``tasks/NAME/predictions.jsonl`` (its test split),
``metrics.json`` (each task's dev and test metrics, their means, the training record and, when sequential,
the accuracy after every stage with forgetting and forward transfer) and ``weights.safetensors``: every
trained tensor once, under its name in the multi-task model, with each task's names listed in the metadata
(:data:`~promptlearn.backbone.run_tensors.TASK_TENSORS`), so ``init=run:PATH#TASK`` reads one task's.
``evaluate`` and ``predict`` take ``--task NAME`` to use one task
(:func:`promptlearn.multitask.loading.task_loader`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from promptlearn.backbone.run_tensors import MULTITASK_FILE, TASK_TENSORS, WEIGHTS
from promptlearn.outputs import write_json_atomic, write_safetensors_atomic
from promptlearn.run.folder import write_predictions

#: a :class:`~promptlearn.multitask.pipeline.MultiTaskRun`, named in words: the pipeline writes through this module
MultiTaskRun = Any

TASKS = "tasks"


def save(folder: Path, run: MultiTaskRun, metrics: dict, predictions: dict[str, list[dict]]) -> None:
    """Write ``run`` into ``folder`` (a staged one)."""
    write_json_atomic(folder / MULTITASK_FILE, {"options": run.options.to_dict(), "tasks": list(run.configs)})
    for name, config in run.configs.items():
        write_json_atomic(folder / TASKS / name / "config.json", config.to_dict())
        write_predictions(folder / TASKS / name / "predictions.jsonl", predictions[name])
    trained = {name: p for name, p in run.model.named_parameters() if p.requires_grad}
    stored = {id(p): name for name, p in trained.items()}
    per_task = {
        task: {own: stored[id(p)] for own, p in model.named_parameters(remove_duplicate=False) if p.requires_grad}
        for task, model in run.model.tasks.items()
    }
    first = next(iter(run.model.tasks.values()))
    write_safetensors_atomic(
        folder / WEIGHTS,
        {name: p.detach().contiguous().cpu() for name, p in trained.items()},
        metadata={
            "base_model": first.backbone.config.name_or_path,
            "mode": first.mode.name,
            "labels": json.dumps({name: pvp.labels for name, pvp in run.pvps.items()}),
            TASK_TENSORS: json.dumps(per_task),
            **first.base_fingerprint,
        },
    )
    write_json_atomic(folder / "metrics.json", metrics)


def is_multitask(folder: Path) -> bool:
    return (Path(folder) / MULTITASK_FILE).is_file()
