"""Run an experiment's grid: one folder per run, resumable, a failing run recorded and skipped past.

A run folder (``<output>/runs/<run id>/``) is written through a staged folder, so it exists whole
(``record.json``, ``config.json``, ``test_predictions.npz``) or not at all: Ctrl-C or a crash
leaves nothing half-written, and a restart skips every finished run. A run that raises is recorded
with its error (status ``failed``) and retried on the next start.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import random
import sys
import time
import traceback
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from promptlearn import api
from promptlearn.backbone.run_tensors import WEIGHTS
from promptlearn.data.examples import Example, TaskData, load_task_data
from promptlearn.errors import PromptlearnError
from promptlearn.experiment.check import check_prompts
from promptlearn.experiment.config import RECIPE_MODE, Experiment, RunSpec, study_candidate, with_candidate
from promptlearn.experiment.grid import GridOptions
from promptlearn.experiment.shard import Worker, claim, exclusive, from_launcher, take_device
from promptlearn.experiment.transfer import transfer_identity
from promptlearn.outputs import (
    FEWSHOT,
    REPORT,
    check_output_free,
    mark_output,
    staged_folder,
    to_json,
    write_json_atomic,
    write_safetensors_atomic,
    write_text_atomic,
)
from promptlearn.pet.config import PET_MODES
from promptlearn.pet.fewshot import cell_folder, run_cell
from promptlearn.prompt.pvp import PVP, Encoded
from promptlearn.run import features
from promptlearn.run.config import RunConfig
from promptlearn.run.ensemble import MEMBER_RULE
from promptlearn.run.moving_grid import next_candidate
from promptlearn.run.tracking import grouped
from promptlearn.tasks import TaskShape, get_shape, shape_for
from promptlearn.training.metrics import classification_metrics

logger = logging.getLogger(__name__)

RECORD = "record.json"
PREDICTIONS = "test_predictions.npz"
RESULTS = "results.jsonl"
RESULTS_LOCK = ".results.lock"
#: an Optuna trial's record fields (its predictions beside it, as in a run folder)
TRIAL = "trial.json"
#: seconds between the main process's looks at the runs other processes still hold
POLL_SECONDS = 2.0
#: a test subset is drawn with this seed, the same for every run of a task
TEST_SUBSET_SEED = 0


class TaskCache:
    """Each dataset is read once per process, and each test set tokenized once per encoding of it."""

    def __init__(self):
        self._data: dict[tuple, TaskData] = {}
        self._rows: dict[tuple, list[int] | None] = {}
        self._encoded: dict[tuple, list[Encoded]] = {}

    def data(self, spec: RunSpec) -> TaskData:
        """The run's data; its test split is the grid's subset (``spec.test_limit``) of the test file."""
        key = self._data_key(spec)
        if key not in self._data:
            data = load_task_data(spec.config.data, api.columns_of(spec.config))
            test = data.splits.get("test", [])
            self._rows[key] = subset_rows(len(test), spec.test_limit)
            if self._rows[key] is not None:
                data.splits["test"] = [test[i] for i in self._rows[key]]
            self._data[key] = data
        return self._data[key]

    def test_rows(self, spec: RunSpec) -> list[int] | None:
        """Where the grid's test subset sits in the whole test split (None: it is the whole split)."""
        self.data(spec)
        return self._rows[self._data_key(spec)]

    def encoded_test(self, spec: RunSpec, pvp: PVP) -> list[Encoded]:
        """The test split encoded by ``pvp`` (which must have no demonstrations: they are drawn per run).

        The key holds everything the ids depend on: the examples, the tokenizer (the model's), the
        pattern, the number of masks (a verbalizer with multi-token words widens [MASK] to its longest
        word), the length budget and the label order.
        """
        key = (
            self._data_key(spec),
            spec.config.model,
            pvp.pattern.segments,
            pvp.mask_count,
            pvp.max_length,
            tuple(pvp.labels),
        )
        if key not in self._encoded:
            self._encoded[key] = pvp.encode(self.data(spec).split("test"))
        return self._encoded[key]

    @staticmethod
    def _data_key(spec: RunSpec) -> tuple:
        return spec.config.data, api.columns_of(spec.config), spec.test_limit


def subset_rows(count: int, limit: int | None) -> list[int] | None:
    """The ascending indices of a fixed random subset of ``limit`` of ``count`` test examples; None: all of them."""
    if limit is None or count <= limit:
        return None
    return sorted(random.Random(TEST_SUBSET_SEED).sample(range(count), limit))


def run_experiment(
    experiment: Experiment, retry_failed: bool = GridOptions.retry_failed, workers: int = GridOptions.workers
) -> list[dict] | None:
    """Run every unfinished run of ``experiment``; the main process returns every finished record, in grid order.

    The processes of ``accelerate launch --num_processes N``, or ``workers`` processes started here,
    share the grid: each claims one run at a time (:mod:`promptlearn.experiment.shard`). The main
    process then waits for the others, runs what a process that died left, and returns the records;
    every other process returns None. ``results.jsonl`` is rewritten after each run from the run
    folders on disk (under a lock), so it always matches them. (``--backend ray`` runs the grid with
    :func:`promptlearn.experiment.ray_backend.run_on_ray` instead.)
    """
    worker = from_launcher()
    if workers > 1:
        if worker.count > 1:
            raise PromptlearnError("Give --workers or start the command with accelerate launch, not both")
        worker = Worker(0, workers, 0)
    output = Path(experiment.output)
    specs, seen, cache = prepare(experiment, retry_failed)
    children = _start_workers(experiment, retry_failed, workers, seen) if workers > 1 else []
    try:
        _work(experiment, specs, seen, retry_failed, worker, cache, progress=worker.main)
        if not worker.main:
            return None
        # wait for the other processes; a run whose process died is free again: run it here
        while any(_pending(s, read_record(output, s), seen[s.run_id], retry_failed) for s in specs):
            time.sleep(POLL_SECONDS)
            _work(experiment, specs, seen, retry_failed, worker, cache, progress=False)
    finally:
        for child in children:
            child.join()
    return collect_records(experiment)


def prepare(experiment: Experiment, retry_failed: bool) -> tuple[list[RunSpec], dict, TaskCache]:
    """Check the grid and start (or resume) its output folder, whichever backend runs it.

    Before the first run, every task's prompts are checked against its data and the tokenizer.
    Returns the grid's runs, each run's stored record at this start (``seen``; None: never finished)
    and the process's task cache.
    """
    output = Path(experiment.output)
    check_output(experiment)
    specs = experiment.runs()
    cache = TaskCache()
    check_prompts(specs, cache.data)
    mark_output(output, FEWSHOT)
    write_json_atomic(output / "experiment.json", experiment.source)
    seen = {spec.run_id: read_record(output, spec) for spec in specs}
    pending = sum(_pending(spec, seen[spec.run_id], seen[spec.run_id], retry_failed) for spec in specs)
    logger.info("%d runs in the grid, %d already finished, %d to run", len(specs), len(specs) - pending, pending)
    changed = [s.run_id for s in specs if seen[s.run_id] and seen[s.run_id].get("fingerprint") != fingerprint(s)]
    if changed:
        logger.warning("%d runs' settings changed since they ran; running them again: %s", len(changed), changed)
    return specs, seen, cache


def to_run(specs: list[RunSpec], seen: dict, retry_failed: bool) -> list[RunSpec]:
    """The runs a start has to run: never finished, run with other settings, or failed before it (``retry_failed``)."""
    return [s for s in specs if _pending(s, seen[s.run_id], seen[s.run_id], retry_failed)]


def check_output(experiment: Experiment) -> None:
    """Check the experiment and report folders: new, empty or their kind, apart from the inputs."""
    inputs = {"model": experiment.model} | {f"{task.name}'s data": task.data for task in experiment.tasks}
    check_output_free(experiment.output, False, FEWSHOT, inputs, resume=True)
    if experiment.report is not None and Path(experiment.report) != Path(experiment.output):
        check_output_free(experiment.report, False, REPORT, inputs, resume=True)


def collect_records(experiment: Experiment) -> list[dict]:
    """The stored records of the grid's runs with their current settings, in grid order; rewrites results.jsonl."""
    check_output(experiment)
    output = Path(experiment.output)
    specs = experiment.runs()
    with exclusive(output / RESULTS_LOCK):
        records = [r for r in (read_record(output, s) for s in specs) if r is not None]
        current = {s.run_id: fingerprint(s) for s in specs}
        records = [r for r in records if r.get("fingerprint") == current[r["run_id"]]]
        write_results(output / RESULTS, records)
    return records


def _work(
    experiment: Experiment,
    specs: list[RunSpec],
    seen: dict,
    retry_failed: bool,
    worker: Worker,
    cache: TaskCache,
    progress: bool = False,
) -> None:
    """Run every pending run no other process holds; ``seen`` is each run's record when the grid started.

    ``progress`` shows a bar over this pass's pending runs (on a terminal).
    """
    output = Path(experiment.output)
    take_device(worker, experiment.cpu_threads)
    todo = [s for s in specs if _pending(s, read_record(output, s), seen[s.run_id], retry_failed)]
    bar = tqdm(total=len(todo), desc="experiment", unit="run", disable=None if progress else True)
    # A log gets one line per finished run, not one per evaluation of every run (a terminal keeps the run's bar).
    training_progress = logging.getLogger("promptlearn.training.progress")
    level = training_progress.level
    if not sys.stderr.isatty():
        training_progress.setLevel(logging.WARNING)
    try:
        for spec in todo:
            with claim(output, spec.run_id) as mine:
                if not mine and spec.study is not None:
                    help_study(spec, output, cache)
                # another process holds it, or finished it since this one looked
                if not mine or not _pending(spec, read_record(output, spec), seen[spec.run_id], retry_failed):
                    continue
                bar.set_postfix_str(spec.run_id)
                record = execute(spec, output, cache)
            collect_records(experiment)
            bar.update(1)
            logger.info("%s%s: %s", f"{worker}: " if worker.count > 1 else "", spec.run_id, outcome(record))
    finally:
        bar.close()
        training_progress.setLevel(level)


def _pending(spec: RunSpec, record: dict | None, seen: dict | None, retry_failed: bool) -> bool:
    """Whether ``spec`` still has to run: no record, other settings, or a failure from before this start."""
    if record is None:
        return True
    if record.get("fingerprint") != fingerprint(spec):
        return True
    return record["status"] != "ok" and retry_failed and record == seen


def _start_workers(experiment: Experiment, retry_failed: bool, count: int, seen: dict) -> list:
    context = multiprocessing.get_context("spawn")  # forking a process that already runs torch threads is unsafe
    children = [
        context.Process(target=_worker_main, args=(experiment, retry_failed, Worker(i, count, i), seen))
        for i in range(1, count)
    ]
    for child in children:
        child.start()
    return children


def _worker_main(experiment: Experiment, retry_failed: bool, worker: Worker, seen: dict) -> None:
    """Entry point of a process started by ``--workers``: it runs runs until none is left unclaimed."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    _work(experiment, experiment.runs(), seen, retry_failed, worker, TaskCache())


def execute(spec: RunSpec, output: Path, cache: TaskCache) -> dict:
    """Run one cell and write its folder. Exceptions become a ``failed`` record; Ctrl-C propagates."""
    started = time.perf_counter()
    predictions = run = None
    try:
        data = cache.data(spec)
        started = time.perf_counter()  # a run's wall time leaves out reading the dataset (shared by its runs)
        record, predictions, run = _train_and_test(spec, data, cache, output)
    except Exception as err:  # a failing run must not stop the grid: keep its error, go on
        record = failure(spec, err)
    record = identity(spec) | record | {"wall_seconds": round(time.perf_counter() - started, 2)}
    weights = run.model.mode.artifact_state(run.model) if spec.keep_weights and run is not None else None
    write_run(output, spec, record, predictions, weights)
    if run is not None:
        for feature in features.FEATURES:
            feature.finish(run, record, output / "runs" / spec.run_id)
    return record


def failure(spec: RunSpec, err: BaseException) -> dict:
    """What a run's record holds when it failed with ``err``."""
    logger.warning("%s failed: %s: %s", spec.run_id, type(err).__name__, err)
    return {
        "status": "failed",
        "config": spec.config.to_dict(),
        "error": f"{type(err).__name__}: {err}",
        "traceback": "".join(traceback.format_exception(err)),
    }


def write_run(output: Path, spec: RunSpec, record: dict, predictions: dict | None, weights: dict | None = None) -> None:
    """Write the run's folder whole: its record, and for a finished run its predictions and config (and for a
    transfer source its trained tensors, which ``init=run:FOLDER`` reads)."""
    with staged_folder(output / "runs" / spec.run_id, overwrite=True) as folder:
        if weights is not None:
            write_safetensors_atomic(folder / WEIGHTS, {k: v.contiguous().cpu() for k, v in weights.items()})
        if predictions is not None:
            np.savez_compressed(folder / PREDICTIONS, **predictions)
            # anchored: `train --config` re-runs it from any directory, as a run folder of `train` does
            write_json_atomic(folder / "config.json", RunConfig.from_dict(record["config"]).anchored().to_dict())
        write_json_atomic(folder / RECORD, record)


def _train_and_test(
    spec: RunSpec, data: TaskData, cache: TaskCache, output: Path
) -> tuple[dict, dict, api.Prompted | None]:
    """The run's record, its stored predictions (test, and for a trained run dev, probabilities and gold) and the
    trained run (None for PET's cells, whose pipeline writes its own runs)."""
    record: dict = {"status": "ok"}
    if spec.mode == RECIPE_MODE:
        return _recipe(spec, data, cache, output, record)
    if spec.mode in PET_MODES:
        folder = cell_folder(output, spec.task, spec.mode, spec.shots, spec.seed)
        # pet-ensemble and pet-distill share one pipeline folder: two processes must not build it at once
        with exclusive(folder.with_name(f".{folder.name}.lock")):
            probs, gold, labels = run_cell(spec.mode, spec.config, list(spec.patterns), folder, cache.test_rows(spec))
        record |= {"config": spec.config.to_dict(), "dev": None, "pipeline": str(folder), "labels": labels}
        record |= _shape_fields(spec.config, labels, data)
        record |= {"test": prediction_metrics(gold, probs, record_shape(record)), "test_examples": len(gold)}
        return record, {"probabilities": probs, "gold": gold}, None
    if spec.zero_shot:
        run = api.build(spec.config, data)
        api.calibrate(run, data.splits.get("train", []))
        record |= {"config": run.config.to_dict(), "dev": None, "trainable_parameters": 0}
        if run.pvp.shape.decision_file is not None:  # untrained, but its decision (multi-label: threshold) is fitted
            dev = api.few_shot_split(run.config, data)[1]
            run.decision = run.pvp.shape.choose_decision(_gold(run, dev), run.predict_proba(dev))
            record["decision"] = run.decision
        predictions = _predict(spec, run, data, cache, dev=False)
    elif spec.study is not None:  # the kept trial may have trained in another process: its stored record
        trained, predictions = _study(spec, data, cache, output)
        record |= trained
        gold, probs = predictions["gold"], predictions["probabilities"]
        record |= _shape_fields(RunConfig.from_dict(record["config"]), record.get("labels"), data)
        test = prediction_metrics(gold, probs, record_shape(record), record.get("decision"))
        return record | {"test": test, "test_examples": len(gold)}, predictions, None
    else:
        run, metrics, trials, predictions = _search(spec, data, cache, output)
        record |= _trained(run, metrics)
        if len(trials) > 1:
            record["search"] = trials
        if len(trials) > len(spec.candidates):  # values the grid moved to, past its edges, in the order tried
            record["extended"] = [{k: v for k, v in t.items() if k != "dev"} for t in trials[len(spec.candidates) :]]
        if spec.combine == "mean":  # the candidates' mean probabilities are the run's; config is the best one's
            dev_gold, dev_probs = predictions["dev_gold"], predictions["dev_probabilities"]
            if run.pvp.shape.decision_file is not None:  # the mean probabilities' own rule, fitted on dev
                record["decision"] = run.decision = run.pvp.shape.choose_decision(dev_gold, dev_probs)
            record |= {"combined": f"mean of {len(trials)} candidates",
                       "dev": prediction_metrics(dev_gold, dev_probs, run.pvp.shape, run.decision)}  # fmt: skip
    gold, probs = predictions["gold"], predictions["probabilities"]
    record |= {"labels": run.pvp.labels} | _shape_fields(run.config, run.pvp.labels, data)
    record |= {"test": prediction_metrics(gold, probs, run.pvp.shape, run.decision), "test_examples": len(gold)}
    return record, predictions, run


def _recipe(spec: RunSpec, data: TaskData, cache: TaskCache, output: Path, record: dict) -> tuple[dict, dict, None]:
    """A task's ``recipe: auto`` cell: ``train --recipe auto`` into ``recipes/<run id>`` (resumed there after an
    interruption), then its test and dev probabilities as any run's."""
    folder = output / "recipes" / spec.run_id
    metrics = api.train_recipe(spec.config, list(spec.patterns), folder, data=data)
    recipe = api.load_run(folder)
    test, dev = data.split("test"), api.few_shot_split(spec.config, data)[1]
    index = {label: i for i, label in enumerate(recipe.labels)}
    predictions = {
        "probabilities": recipe.predict_proba(test), "gold": np.array([index[ex.label] for ex in test]),
        "dev_probabilities": recipe.predict_proba(dev), "dev_gold": np.array([index[ex.label] for ex in dev]),
    }  # fmt: skip
    record |= {"config": spec.config.to_dict(), "dev": metrics["dev"], "recipe": str(folder), "labels": recipe.labels}
    record |= {
        "test": prediction_metrics(predictions["gold"], predictions["probabilities"]),
        "test_examples": len(test),
    }
    return record, predictions, None


def _trained(run: api.Prompted, metrics: dict) -> dict:
    """A trained run's record fields: its settings, dev metrics, sizes and training history."""
    training = metrics["training"]
    decision = {} if run.decision is None else {"decision": run.decision}  # fitted on dev (multi-label: threshold)
    return decision | {
        "config": run.config.to_dict(),
        "dev": metrics["dev"],
        "trainable_parameters": training["trainable_parameters"],
        "total_parameters": training["total_parameters"],
        "train_examples": training["train_examples"],
        "dev_examples": training["dev_examples"],
        "best_step": training["best_step"],
        "history": training["history"],
    }


def _study(spec: RunSpec, data: TaskData, cache: TaskCache, output: Path, wait: bool = True) -> tuple[dict, dict]:
    """Train the trials of the run's Optuna search (:mod:`~promptlearn.experiment.optuna_search`), each writing its
    record fields and predictions to its trial folder; returns the kept trial's, with the study's account.

    ``wait=False``: help with the study of a run another process reports, returning when no trial is left to start.
    """
    from promptlearn.experiment import optuna_search

    config = grouped(spec.config, output)

    def objective(params: dict, report: optuna_search.Report, folder: Path) -> dict:
        candidate = with_candidate(config, study_candidate(config, params), spec.run_id)
        run, metrics = api.fit(
            candidate, data, output / "runs" / spec.run_id, lambda e, _: report(e["step"], e["accuracy"])
        )
        np.savez_compressed(folder / PREDICTIONS, **_predict(spec, run, data, cache))
        write_json_atomic(folder / TRIAL, _trained(run, metrics) | {"labels": run.pvp.labels})
        return metrics["dev"]

    folder = output / optuna_search.STUDIES / f"{spec.run_id}__{fingerprint(spec)}"
    trials = optuna_search.run_study(folder, spec.study, spec.seed, objective, wait)
    if not wait:
        return {}, {}
    account = optuna_search.study_report(trials, folder, output)
    kept = output / account["study"]["folder"]
    with np.load(kept / PREDICTIONS) as stored:
        predictions = dict(stored)
    return json.loads((kept / TRIAL).read_text(encoding="utf-8")) | account, predictions


def help_study(spec: RunSpec, output: Path, cache: TaskCache) -> None:
    """Train trials of the Optuna search of a run another process holds, if any are left to start."""
    try:
        _study(spec, cache.data(spec), cache, output, wait=False)
    except Exception as err:  # the run's own process records what fails; this one goes on with the grid
        logger.warning("%s: a trial failed: %s: %s", spec.run_id, type(err).__name__, err)


def _predict(spec: RunSpec, run: api.Prompted, data: TaskData, cache: TaskCache, dev: bool = True) -> dict:
    """``run``'s test probabilities and gold indices, and (``dev``) those of its sampled dev split."""
    test = data.split("test")
    # demonstrations are drawn anew for each run: only their absence lets runs share one encoding
    probs = run.predict_proba(test, None if run.pvp.demonstrations else cache.encoded_test(spec, run.pvp))
    predicted = {"probabilities": probs, "gold": _gold(run, test)}
    if dev:
        examples = api.few_shot_split(run.config, data)[1]
        predicted |= {"dev_probabilities": run.predict_proba(examples), "dev_gold": _gold(run, examples)}
    return predicted


def _gold(run: api.Prompted, examples: list[Example]) -> np.ndarray:
    """The examples' targets as the run's task shape reads them: class indices, or (regression) scores."""
    index = {label: i for i, label in enumerate(run.pvp.labels)}
    targets = [run.pvp.shape.target(ex.label, index) for ex in examples]
    return np.array(targets, dtype=np.int64 if run.pvp.shape.labels_are_names else np.float64)


def _shape_fields(config: RunConfig, labels: list[str], data: TaskData) -> dict:
    """What a record of a shape with its own report metrics holds to be scored again (ensembles): its shape
    and metric names; nothing for classification, whose records stay as they were."""
    shape = shape_for(config.task_type, data)
    if shape.report_metrics is None:
        return {}
    return {"task_type": shape.name, "metric_names": list(shape.report_metrics), "labels": labels}


def record_shape(record: dict) -> TaskShape | None:
    """The task shape (bound to the record's labels) of a record :func:`_shape_fields` filled; None otherwise."""
    if "task_type" not in record:
        return None
    return get_shape(record["task_type"]).bind(record["labels"])


def _search(
    spec: RunSpec, data: TaskData, cache: TaskCache, output: Path
) -> tuple[api.Prompted, dict, list[dict], dict]:
    """Train every candidate; keep the best on dev (accuracy, then macro-F1, then grid order). With
    ``spec.extend``, a best candidate at an edge of the grid adds one value beyond it, up to ``spec.extend`` values
    (:mod:`promptlearn.run.moving_grid`).

    Returns the best run, its metrics, every candidate's dev metrics and the predictions the run
    reports: the best candidate's, or with ``spec.combine == "mean"`` the mean probabilities of all
    candidates (a hyperparameter ensemble), each predicted as soon as it is trained.
    """
    best = None
    trials = []
    combined: list[dict] = []
    config = grouped(spec.config, output)  # its tracker runs: one project per experiment, in its folder
    candidates = list(spec.candidates)
    for candidate in candidates:
        run, metrics = api.fit(with_candidate(config, candidate, spec.run_id), data, output / "runs" / spec.run_id)
        trials.append({**candidate, "dev": metrics["dev"]})
        if spec.combine == "mean":
            combined.append(_predict(spec, run, data, cache))
        score = dev_score(metrics["dev"], run.pvp.shape.report_metrics)
        if best is None or score > best[0]:
            best = (score, run, metrics, candidate)
        if candidate is candidates[-1] and len(candidates) < len(spec.candidates) + spec.extend:
            # the grid moves past an edge the best sits at
            beyond = next_candidate(candidates, best[3], [dev_score(trial["dev"]) for trial in trials])
            if beyond is not None:
                candidates.append(beyond)
    _, run, metrics, _ = best
    if not combined:
        return run, metrics, trials, _predict(spec, run, data, cache)
    mean = {key: np.mean([c[key] for c in combined], axis=0) for key in ("probabilities", "dev_probabilities")}
    return run, metrics, trials, combined[0] | mean


def dev_score(dev: dict, names: tuple[str, str] | None = None) -> tuple[float, float]:
    """What a search ranks its candidates by: dev accuracy, then dev macro-F1 (ties: the first in grid order);
    ``names``: a task shape's two report metrics instead (regression: Pearson, then Spearman)."""
    first, second = (names or ("accuracy", "macro_f1"))[:2]
    return dev[first], dev[second]


def prediction_metrics(
    gold: np.ndarray, probs: np.ndarray, shape: TaskShape | None = None, decision: dict | None = None
) -> dict:
    """Accuracy, macro-F1, and the share of predictions going to the most-predicted class.

    A share near 1 means the model predicts one class for everything (majority-class collapse).
    A ``shape`` with its own report metrics (regression, multi-label) gives its metrics instead, deciding by
    ``decision``, the rule the run fitted on dev (multi-label: its threshold; never one fitted on ``gold``).
    """
    if shape is not None and shape.report_metrics is not None:
        if shape.decision_file is not None and decision is None:
            raise PromptlearnError(
                f"A {shape.name} record is scored by the decision its run fitted on dev; it has none"
            )
        return shape.metrics(gold, probs, probs.shape[1], decision)
    predicted = probs.argmax(axis=1)
    metrics = classification_metrics(gold, predicted, probs.shape[1])
    counts = np.bincount(predicted, minlength=probs.shape[1])
    gold_counts = np.bincount(gold, minlength=probs.shape[1])
    metrics["top_class_share"] = float(counts.max() / len(predicted))
    metrics["majority_accuracy"] = float(gold_counts.max() / len(gold))
    return metrics


def identity(spec: RunSpec) -> dict:
    """What names a run in its record, and the fingerprint of its settings."""
    return {
        "run_id": spec.run_id,
        "task": spec.task,
        "mode": spec.mode,
        "pattern_id": spec.pattern_id,
        "shots": spec.shots,
        "seed": spec.seed,
        "fingerprint": fingerprint(spec),
    } | (transfer_identity(spec) if spec.transfer_from is not None else {})


def read_record(output: Path, spec: RunSpec) -> dict | None:
    """The stored record of a run, or None when it never finished."""
    path = Path(output) / "runs" / spec.run_id / RECORD
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def load_predictions(output: Path, run_id: str) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    """A finished run's probabilities (N, C) and gold label indices (N,) per split: ``test``, and ``dev``
    for a trained run (its sampled dev split, scored by the kept checkpoint)."""
    path = Path(output) / "runs" / run_id / PREDICTIONS
    if not path.is_file():
        return None
    with np.load(path) as stored:
        loaded = {"test": (stored["probabilities"], stored["gold"])}
        if "dev_probabilities" in stored:
            loaded["dev"] = (stored["dev_probabilities"], stored["dev_gold"])
        return loaded


def write_results(path: Path, records: list[dict | None]) -> None:
    """One JSON line per finished run, without the per-evaluation training history."""
    lines = [
        to_json({k: v for k, v in r.items() if k not in ("history", "traceback")}, indent=None)
        for r in records
        if r is not None
    ]
    write_text_atomic(path, "".join(line + "\n" for line in lines))


def fingerprint(spec: RunSpec) -> str:
    """Hash of everything that decides a run's numbers: a stored run is reused only when it matches."""
    identity = [spec.config.to_dict(), spec.candidates, spec.test_limit] + ([spec.patterns] if spec.patterns else [])
    if spec.combine != "best":  # (so runs from before the option keep their fingerprints)
        identity.append(spec.combine)
    if spec.study is not None:
        identity.append(spec.study.to_dict())
    if spec.extend:
        identity.append({"extend": spec.extend})
    if spec.keep_weights:  # a source stored without its weights runs again, to keep them
        identity.append("keep_weights")
    if spec.mode == RECIPE_MODE:  # a recipe cell combined by an earlier member rule is combined again
        identity.append({"member_rule": MEMBER_RULE})
    if spec.transfer_from is not None:  # a target trains again when its source did
        identity.append(fingerprint(spec.transfer_from))
    settings = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(settings.encode()).hexdigest()[:16]


def outcome(record: dict) -> str:
    """One line on how a run ended, for the log."""
    if record["status"] != "ok":
        return f"FAILED ({record['error']})"
    test = record["test"]
    if "metric_names" in record:
        shown = ", ".join(f"{name} {test[name]:.3f}" for name in record["metric_names"])
        return f"test {shown} ({record['wall_seconds']} s)"
    return f"test accuracy {test['accuracy']:.3f}, macro-F1 {test['macro_f1']:.3f} ({record['wall_seconds']} s)"
