"""Loading a multi-task run folder (:mod:`promptlearn.multitask.folder`): the whole run, or one task of it as a
single-task run for ``evaluate`` and ``predict --task NAME``."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file

from promptlearn.backbone.fingerprint import check_same_base, size_mismatches
from promptlearn.backbone.run_tensors import MULTITASK_FILE, WEIGHTS
from promptlearn.errors import PromptlearnError
from promptlearn.multitask.config import MultiTaskOptions
from promptlearn.multitask.folder import TASKS, is_multitask
from promptlearn.multitask.pipeline import MultiTaskRun, build
from promptlearn.run.config import RunConfig
from promptlearn.run.prompted import Prompted
from promptlearn.training.trainer import restore_trained


def load(run_dir: str | Path, allow_other_base: bool = False) -> MultiTaskRun:
    """Rebuild a trained multi-task run: every task's model on one base model, then the stored tensors."""
    run_dir = Path(run_dir)
    saved = json.loads((run_dir / MULTITASK_FILE).read_text(encoding="utf-8"))
    options = MultiTaskOptions(**saved["options"])
    configs = {}
    for name in saved["tasks"]:
        path = run_dir / TASKS / name / "config.json"
        if not path.is_file():
            raise PromptlearnError(f"{run_dir} lacks {path.relative_to(run_dir)}: the folder is incomplete")
        configs[name] = RunConfig.load(path).anchored()
    weights = run_dir / WEIGHTS
    try:
        with safe_open(weights, "pt") as handle:
            metadata = handle.metadata() or {}
        state = load_file(weights)
    except (SafetensorError, OSError) as err:
        raise PromptlearnError(f"{weights} cannot be read as safetensors ({err}): train the run again") from err
    run = build(configs, options)
    first = next(iter(run.model.tasks.values()))
    mismatched = size_mismatches(metadata, first.base_fingerprint)
    if mismatched:
        raise PromptlearnError(f"{weights} was trained on another base model ({', '.join(mismatched)})")
    check_same_base(metadata, first.base_fingerprint, str(weights), allow_other_base)
    restore_trained(run.model, state, str(weights))
    run.model.eval()
    return run


def load_task(run_dir: Path, allow_other_base: bool = False, task: str | None = None) -> Prompted:
    """Task ``task`` of the multi-task run folder ``run_dir``, as a single-task run."""
    return load(run_dir, allow_other_base).task(task)


def task_loader(run_dir: Path | None, task: str | None) -> Callable[[Path, bool], Prompted] | None:
    """How ``evaluate``/``predict`` load ``--run``: one task of a multi-task folder, or None (a single-task run).

    A multi-task folder needs ``--task NAME`` (checked against its tasks before any model loads).
    """
    if run_dir is None or not is_multitask(run_dir):
        return None
    tasks = json.loads((Path(run_dir) / MULTITASK_FILE).read_text(encoding="utf-8"))["tasks"]
    if task is None or task not in tasks:
        given = "no --task" if task is None else f"--task {task!r}, which it does not hold"
        raise PromptlearnError(f"{run_dir} is a multi-task run of the tasks {tasks}: got {given}; give --task NAME")
    return functools.partial(load_task, task=task)
