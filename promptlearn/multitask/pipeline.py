"""Training several tasks on one model: mixed (every batch one task's, drawn by the sampling rule) or
sequential (one task after another, with optional rehearsal), into one run folder.

Each task's few-shot split, PVP and PromptModel are what a single-task run of its RunConfig would have
(:func:`promptlearn.run.pipeline.few_shot_split`, :func:`promptlearn.run.prompted.build_model`); only the
tying of the models (:mod:`promptlearn.multitask.model`) and the trainer's batches
(:mod:`promptlearn.multitask.trainer`) are new.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

from accelerate.utils import set_seed

from promptlearn.backbone.loading import load_backbone
from promptlearn.data.examples import Example, TaskData, load_task_data
from promptlearn.errors import PromptlearnError
from promptlearn.modes import get_mode
from promptlearn.modes.base import Mode
from promptlearn.multitask import continual
from promptlearn.multitask.config import MultiTaskOptions
from promptlearn.multitask.model import MultiTaskModel, copies, parameter_ids
from promptlearn.multitask.sampling import task_probabilities
from promptlearn.multitask.trainer import MultiTaskTrainer, TaskItem, TaskView
from promptlearn.outputs import RUN, check_output_free, check_writable, staged_folder
from promptlearn.prompt.pvp import PVP
from promptlearn.run.config import RunConfig
from promptlearn.run.feature import refuse_unserved
from promptlearn.run.folder import metrics_of
from promptlearn.run.pipeline import check_positions, few_shot_split
from promptlearn.run.prompted import Prompted, build_model
from promptlearn.tasks.base import shape_for

#: the task shapes ``--tasks`` serves: it trains, and keeps its best step by, single-label tasks' accuracy
SHAPES = ("single",)


@dataclass
class MultiTaskRun:
    """A built multi-task run: each task's config and PVP, the tied model and its trainer."""

    options: MultiTaskOptions
    configs: dict[str, RunConfig]
    pvps: dict[str, PVP]
    model: MultiTaskModel
    trainer: MultiTaskTrainer

    def task(self, name: str) -> Prompted:
        """Task ``name`` as a single-task run: evaluate, predict and every report read it as one."""
        if name not in self.configs:
            raise PromptlearnError(f"This multi-task run has no task {name!r}; its tasks are {list(self.configs)}")
        view = TaskView(self.trainer, name)
        return Prompted(config=self.configs[name], pvp=self.pvps[name], model=self.model.tasks[name], trainer=view)


def build(
    configs: dict[str, RunConfig], options: MultiTaskOptions, data: dict[str, TaskData] | None = None
) -> MultiTaskRun:
    """Every task's PVP and PromptModel on one loaded backbone, tied as ``options.share`` says; ``data`` (when
    given) is checked against each task's PVP."""
    first = next(iter(configs.values()))
    mode = get_mode(first.mode).from_options(first.mode_options)
    if type(mode).fit is not Mode.fit:
        raise PromptlearnError(
            f"--tasks trains every task in one loop, but mode {mode.name!r} trains in stages of its own: "
            "train each task on its own (without --tasks)."
        )
    set_seed(first.seed)
    backbone = load_backbone(first.model, mlm_head=mode.uses_verbalizer)
    base_ids = parameter_ids(backbone)
    built, pvps, models = {}, {}, {}
    for (name, config), copy in zip(configs.items(), copies(backbone, len(configs)), strict=True):
        built[name], pvps[name], models[name] = build_model(config, (data or {}).get(name), copy)
    model = MultiTaskModel(models, base_ids, options.share)
    rates = dict.fromkeys(configs, 1 / len(configs))
    trainer = MultiTaskTrainer(model, pvps, first, rates, options.select)
    return MultiTaskRun(options, built, pvps, model, trainer)


def train(
    configs: dict[str, RunConfig], options: MultiTaskOptions, output: str | Path | None = None, overwrite: bool = False
) -> dict:
    """Train every task (mixed, or in order with ``options.sequential``), evaluate each on its dev and test split,
    and (with ``output``) write one run folder (:mod:`promptlearn.multitask.folder`). Returns the metrics."""
    from promptlearn.multitask.folder import save

    inputs = {f"--tasks {name}": config.data for name, config in configs.items()}
    if output is not None:
        check_output_free(output, overwrite, RUN, inputs)
        check_writable(output)
    started = time.perf_counter()
    data = {name: load_task_data(config.data, config.columns()) for name, config in configs.items()}
    for name, task_data in data.items():
        refuse_unserved(shape_for(configs[name].task_type, task_data), [("--tasks", SHAPES)], f" (task {name!r})")
        if "test" not in task_data.splits or any(ex.label is None for ex in task_data.splits["test"]):
            raise PromptlearnError(f"Task {name!r} ({configs[name].data}) has no labelled test split")
    run = build(configs, options, data)
    for name, pvp in run.pvps.items():
        check_positions(pvp, data[name])
    splits = {name: few_shot_split(run.configs[name], data[name]) for name in run.configs}
    fitting = _fit_sequence if options.sequential else _fit_mixed
    metrics = fitting(run, splits, data)
    predictions = {name: run.task(name).predict(data[name].splits["test"]) for name in run.configs}
    metrics["tasks"] = {
        name: {
            "dev": run.task(name).evaluate(splits[name][1]),
            "test": metrics_of(predictions[name], run.pvps[name].labels),
        }
        for name in run.configs
    }
    for split in ("dev", "test"):
        metrics[split] = {
            key: sum(m[split][key] for m in metrics["tasks"].values()) / len(configs)
            for key in ("accuracy", "macro_f1")
        }
    metrics["training"] |= {
        "trainable_parameters": run.model.trainable_parameters(),
        "total_parameters": run.model.total_parameters(),
        "wall_seconds": round(time.perf_counter() - started, 2),
    }
    if output is not None and run.trainer.accelerator.is_main_process:
        with staged_folder(output, overwrite, RUN, inputs) as folder:
            save(folder, run, metrics, predictions)
    return metrics


def _items(name: str, pvp: PVP, examples: list[Example]) -> list[TaskItem]:
    return [TaskItem(name, encoded) for encoded in pvp.encode(examples)]


def _fit_mixed(run: MultiTaskRun, splits: dict, data: dict) -> dict:
    """All tasks at once, each batch's task drawn by the sampling rule."""
    options = run.options
    sizes = [len(train) for train, _ in splits.values()]
    rates = task_probabilities(sizes, options.sampling, options.sampling_temperature)
    run.trainer.probabilities = dict(zip(run.configs, rates, strict=True))
    train = [item for name, (examples, _) in splits.items() for item in _items(name, run.pvps[name], examples)]
    dev = [item for name, (_, examples) in splits.items() for item in _items(name, run.pvps[name], examples)]
    result = run.trainer.fit(train, dev)
    return {
        "training": {
            "steps": result.steps,
            "best_step": result.best_step,
            "task_probabilities": run.trainer.probabilities,
            "train_examples": dict(zip(run.configs, sizes, strict=True)),
            "history": result.history,
        }
    }


def _fit_sequence(run: MultiTaskRun, splits: dict, data: dict) -> dict:
    """The tasks in order, each stage selected on its own task's dev; after every stage (and before the first)
    every task's dev and test accuracy is recorded, and forgetting and forward transfer come from them."""
    options, order = run.options, list(run.configs)
    memory: list[TaskItem] = []
    record = {"dev": [_accuracies(run, splits, data, "dev")], "test": [_accuracies(run, splits, data, "test")]}
    stages = []
    for name in order:
        train, dev = splits[name]
        items = _items(name, run.pvps[name], train) + memory
        present = list(dict.fromkeys(item.task for item in items))
        sizes = [sum(item.task == task for item in items) for task in present]
        run.trainer.probabilities = dict(
            zip(present, task_probabilities(sizes, options.sampling, options.sampling_temperature), strict=True)
        )
        run.trainer.select = name
        result = run.trainer.fit(items, _items(name, run.pvps[name], dev))
        stages.append({"task": name, "steps": result.steps, "best_step": result.best_step, "history": result.history})
        record["dev"].append(_accuracies(run, splits, data, "dev"))
        record["test"].append(_accuracies(run, splits, data, "test"))
        memory += _rehearsal(name, run.pvps[name], train, options.rehearsal, run.configs[name].seed)
    sequence = {"order": order, "rehearsal": options.rehearsal, "accuracy_after_stage": record}
    sequence |= {split: continual.summary(order, record[split]) for split in ("dev", "test")}
    return {"sequence": sequence, "training": {"stages": stages}}


def _accuracies(run: MultiTaskRun, splits: dict, data: dict, split: str) -> dict[str, float]:
    """Every task's accuracy on its few-shot dev examples or its whole test split."""
    return {
        name: run.task(name).evaluate(splits[name][1] if split == "dev" else data[name].splits["test"])["accuracy"]
        for name in run.configs
    }


def _rehearsal(name: str, pvp: PVP, train: list[Example], count: int, seed: int) -> list[TaskItem]:
    """``count`` of the task's training examples kept for replay in later stages (a seeded draw)."""
    if not count:
        return []
    kept = random.Random(seed).sample(train, min(count, len(train)))
    return _items(name, pvp, kept)
