"""A run as a pipeline of steps: sample the few-shot split, let the features prepare, build, train, calibrate,
evaluate and write the run folder. The run-level features (:mod:`promptlearn.run.features`) join through
their hooks; nothing here names one."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from promptlearn.data.examples import Example, TaskData, load_task_data
from promptlearn.outputs import RUN, check_output_free, check_writable, staged_folder
from promptlearn.prompt.pvp import PVP
from promptlearn.run import features
from promptlearn.run.config import RunConfig
from promptlearn.run.feature import Fitting
from promptlearn.run.folder import metrics_of, save_run
from promptlearn.run.prompted import Prompted, build_model
from promptlearn.tasks import shape_for
from promptlearn.training.objective import Objective
from promptlearn.training.trainer import OnEvaluate, Trainer

#: the API's logger, as users see and filter its warnings (docs/errors.md quotes it)
logger = logging.getLogger("promptlearn.api")


def fit(
    config: RunConfig, data: TaskData, output: str | Path | None = None, on_evaluate: OnEvaluate | None = None
) -> tuple[Prompted, dict]:
    """Sample the few-shot split of ``data``, build and train; returns the run and its dev/training metrics.

    ``output``: the run folder the caller will write the run to, if any (features may name things after it).
    ``on_evaluate``: called after every evaluation too, after the features' own (an Optuna search's trial
    reports to its study there, and may stop training by raising).

    The features' hooks run in their order (:class:`~promptlearn.run.feature.Feature`): e.g. the
    label-word search before the build, demonstrations drawn from this split's train, calibration of the
    trained model before it is evaluated on dev.
    """
    started = time.perf_counter()
    fitting = Fitting(config, data, *few_shot_split(config, data), output=None if output is None else Path(output))
    for feature in features.FEATURES:
        feature.prepare(fitting)
    config, pvp, model = build_model(fitting.config, data, fitting.backbone)
    check_positions(pvp, data)
    targets, terms = None, {}
    for feature in features.FEATURES:
        found = feature.soft_targets(fitting, pvp)
        targets = targets if found is None else found
        terms |= feature.objective(fitting, pvp, model)
    objective = Objective(shape=pvp.shape, **terms)
    run = Prompted(config=config, pvp=pvp, model=model, trainer=Trainer(model, pvp.collate, config, objective))
    for feature in features.FEATURES:
        feature.setup(run, fitting)
    if on_evaluate is not None:
        run.trainer.on_evaluate = _then(run.trainer.on_evaluate, on_evaluate)
    dev_encoded = run.pvp.encode(fitting.dev)
    result = run.trainer.fit(run.pvp.encode(fitting.train, soft_targets=targets), dev_encoded)
    for feature in features.FEATURES:
        feature.after_fit(run, fitting)
    metrics = {"dev": run.evaluate(fitting.dev)} | fitting.reports
    metrics["training"] = {
        "steps": result.steps,
        "best_step": result.best_step,
        "train_examples": len(fitting.train),
        "dev_examples": len(fitting.dev),
        "trainable_parameters": run.model.trainable_parameters(),
        "total_parameters": run.model.total_parameters(),
        "wall_seconds": round(time.perf_counter() - started, 2),
        "history": result.history,
    }
    return run, metrics


def _then(first: OnEvaluate | None, second: OnEvaluate) -> OnEvaluate:
    if first is None:
        return second

    def both(entry: dict, rates: dict[str, float]) -> None:
        first(entry, rates)
        second(entry, rates)

    return both


def few_shot_split(config: RunConfig, data: TaskData) -> tuple[list[Example], list[Example]]:
    """The run's (train, dev) examples: its seed's few-shot sample, dev as ``config`` says."""
    return shape_for(config.task_type, data).few_shot(data, config.shots, config.seed, config.dev_split)


def check_positions(pvp: PVP, data: TaskData) -> None:
    """Refuse, before training, an input of ``data`` longer than the model's positions.

    Only needed when ``max_length`` allows one; the test split is read too, as it is predicted after training.
    """
    limit = pvp.max_positions
    if limit is not None and pvp.max_length > limit:
        for examples in data.splits.values():
            pvp.encode(examples)


def train(
    config: RunConfig, output: str | Path | None = None, overwrite: bool = False, data: TaskData | None = None
) -> dict:
    """Train, evaluate on dev and test, and (with ``output``) write the run folder. Returns the metrics.

    Without a (labelled) test split there are no test metrics, and ``metrics["warnings"]`` says so.

    ``data`` saves re-reading the dataset when the caller already holds ``config.data`` loaded.
    """
    config = config.anchored()  # the run folder must work from any directory
    if output is not None:
        check_output_free(output, overwrite, RUN, config.input_paths())
        check_writable(output)
    started = time.perf_counter()
    if data is None:
        data = load_task_data(config.data, config.columns())
    run, metrics = fit(config, data, output)
    predictions = None
    if "test" not in data.splits:
        warning = f"{config.data} has no test split: no test metrics and no predictions.jsonl"
    else:
        predictions = run.predict(data.splits["test"])  # calibrated and averaged over demonstrations, as set
        if predictions[0]["gold"] is None:  # a test split is labelled in every row or in none
            warning = f"the test split of {config.data} has no labels: predictions.jsonl only, no test metrics"
        else:
            metrics["test"] = metrics_of(predictions, run.pvp.labels, run.pvp.shape)
            warning = None
    if warning is not None:
        logger.warning(warning)
        metrics["warnings"] = [warning]
    artifact = run.model.mode.artifact_state(run.model)
    metrics["training"]["artifact_bytes"] = sum(t.numel() * t.element_size() for t in artifact.values())
    metrics["training"]["wall_seconds"] = round(time.perf_counter() - started, 2)
    # Under `accelerate launch` every process trains the same weights; only the main one writes.
    if output is not None and run.trainer.accelerator.is_main_process:
        with staged_folder(output, overwrite, RUN, config.input_paths()) as folder:
            save_run(folder, run, artifact, metrics, predictions)
    for feature in features.FEATURES:
        feature.finish(run, metrics, None if output is None else Path(output))
    return metrics
