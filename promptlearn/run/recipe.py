"""``promptlearn train --recipe auto``: the few-shot recipe as one run folder that loads like any run.

The recipe (docs/results/recipe.md) reads one pretrained MLM three ways that fail differently, and averages them:

- ``pet`` (the whole MLM, trained on the label words at [MASK]) on every pattern, learning rate from 3e-5, 1e-4,
  3e-4;
- ``mlm_head`` (only the MLM head's transform) on every pattern, from 1e-3, 3e-3;
- ``head`` (a linear classifier on the frozen [CLS], bare text) once, from 1e-2, 3e-2.

Every member trains on the user's K-shot train split with dev sampled from the rest of train (the run's
``--shots`` / ``--seed``), for ``--steps auto`` (:mod:`promptlearn.run.budget`), with the learning rate chosen
on dev from a grid that moves past an edge its best sits at (:mod:`promptlearn.run.moving_grid`, up to
:data:`EXTEND` values). Each member weighs by how far its dev accuracy is above guessing, so those no better than
guessing are left out (:func:`promptlearn.run.ensemble.member_weights`); the prediction is the weighted mean of
the members' class probabilities.

The folder: ``members/<name>/`` (each a run folder of its own, written whole, plus ``search.json``: every
learning rate tried and its dev metrics), then ``recipe.json`` (the members, their weights and why, the rule),
``metrics.json`` and ``predictions.jsonl``. ``recipe.json`` is written last: a folder without it is a recipe
interrupted, which the same command resumes, training only the members that have no folder yet.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from promptlearn.data.examples import Example, TaskData, load_task_data, prediction_record
from promptlearn.errors import PromptlearnError
from promptlearn.outputs import (
    RECIPE,
    check_output_free,
    check_writable,
    mark_output,
    own_kind,
    staged_folder,
    write_json_atomic,
)
from promptlearn.run.config import RunConfig
from promptlearn.run.ensemble import MEMBER_RULE, accuracy, baseline_accuracy, member_weights, weighted_mean
from promptlearn.run.feature import refuse_unserved
from promptlearn.run.folder import load_run as load_single_run
from promptlearn.run.folder import metrics_of, save_run, write_predictions
from promptlearn.run.moving_grid import next_candidate
from promptlearn.run.pipeline import few_shot_split, fit
from promptlearn.run.prompted import Prompted
from promptlearn.tasks.base import shape_for

logger = logging.getLogger(__name__)

#: the recipes ``--recipe`` takes
RECIPES = ("auto",)
RECIPE_FILE = "recipe.json"
MEMBERS = "members"
SEARCH_FILE = "search.json"
#: the task shapes a recipe serves: its members are single-label classifiers, weighed by dev accuracy
SHAPES = ("single",)
#: the learning rates each member's grid starts from (the recipe of issue 16, fixed on development tasks)
GRIDS = {"pet": (3e-5, 1e-4, 3e-4), "mlm_head": (1e-3, 3e-3), "head": (1e-2, 3e-2)}
#: values a member's grid may add past its edges
EXTEND = 2
#: what every member trains with, over the run's own settings
SETTINGS = {"steps": "auto", "epochs": None, "eval_every": 25, "mode_options": {}}
RULE = (
    "a member's weight is its dev accuracy minus guessing's (the larger of chance, 1/C, and the majority class's "
    "share of dev), 0 at or below it, the weights summing to 1; all weigh the same when none is above guessing. "
    "The prediction is the weighted mean of the members' class probabilities."
)


@dataclass(frozen=True)
class Member:
    """One member of a recipe: its folder name, mode, pattern and the learning rates its grid starts from."""

    name: str
    mode: str
    pattern_id: int | None
    pattern: str
    learning_rates: tuple[float, ...]


def recipe_members(patterns: list[tuple[int | None, str]]) -> list[Member]:
    """The recipe's members for ``patterns`` (id, text): pet and mlm_head on each, then one head."""
    members = [
        Member(f"{mode}-p{index if pid is None else pid}", mode, pid, text, GRIDS[mode])
        for mode in ("pet", "mlm_head")
        for index, (pid, text) in enumerate(patterns)
    ]
    return [*members, Member("head", "head", patterns[0][0], patterns[0][1], GRIDS["head"])]


def recipe_patterns(
    task: str | None, pattern: str | None, pattern_id: int | None, config: RunConfig
) -> list[tuple[int | None, str]]:
    """The patterns a recipe trains on: every preset pattern of ``task`` unless one was chosen, else the run's."""
    if task is not None and pattern is None and pattern_id is None:
        from promptlearn.prompt.presets import task_patterns

        return [(p.id, p.pattern) for p in task_patterns(task)]
    return [(config.pattern_id, config.pattern)]


def check_recipe(name: str) -> None:
    if name not in RECIPES:
        raise PromptlearnError(f"--recipe must be one of {', '.join(RECIPES)}, got {name!r}")


def train_recipe(
    config: RunConfig,
    patterns: list[tuple[int | None, str]],
    output: str | Path,
    overwrite: bool = False,
    data: TaskData | None = None,
) -> dict:
    """Train the ``auto`` recipe on ``config``'s data, K-shot split and seed, with ``patterns`` (id, text), into the
    run folder ``output`` (resumed when it holds an interrupted recipe); returns its metrics (dev, test)."""
    output = Path(output)
    config = config.anchored()
    check_output_free(output, overwrite, RECIPE, config.input_paths(), resume=True)
    check_writable(output)
    if overwrite and output.is_dir() and own_kind(output) is not None:
        shutil.rmtree(output)  # promptlearn's own folder (checked above): start over
    data = data if data is not None else load_task_data(config.data, config.columns())
    refuse_unserved(shape_for(config.task_type, data), [("--recipe auto", SHAPES)])
    mark_output(output, RECIPE)
    members = recipe_members(patterns)
    clock = _Clock(sum(len(m.learning_rates) for m in members))
    for index, member in enumerate(members):
        folder = output / MEMBERS / member.name
        wanted = _member_config(config, member).to_dict()
        if _finished(folder, wanted):
            logger.info("recipe: %s (%d/%d) already trained, kept", member.name, index + 1, len(members))
            clock.plan(-len(member.learning_rates))
            continue
        _train_member(
            member, _member_config(config, member), data, folder, wanted, clock, f"{index + 1}/{len(members)}"
        )
    return _combine(output, members, config, data)


def _member_config(config: RunConfig, member: Member) -> RunConfig:
    return config.replace(mode=member.mode, pattern=member.pattern, pattern_id=member.pattern_id, **SETTINGS)


def _finished(folder: Path, wanted: dict) -> bool:
    """Whether ``folder`` holds this member trained with these settings (a resumed recipe keeps it)."""
    path = folder / SEARCH_FILE
    return path.is_file() and json.loads(path.read_text(encoding="utf-8")).get("settings") == wanted


class _Clock:
    """Time left for the whole recipe: the mean time of a training so far times the trainings left."""

    def __init__(self, trainings: int):
        self.left, self.done, self.seconds = trainings, 0, 0.0

    def plan(self, count: int) -> None:
        """``count`` more trainings to come (negative: fewer, e.g. a member kept from before)."""
        self.left += count

    def timed(self, started: float) -> None:
        self.seconds += time.perf_counter() - started
        self.done += 1
        self.left = max(self.left - 1, 0)

    def remaining(self) -> str:
        if not self.done:
            return "time left: after the first training"
        return f"about {round(self.seconds / self.done * self.left)} s left for the recipe"


def _train_member(
    member: Member, config: RunConfig, data: TaskData, folder: Path, wanted: dict, clock: _Clock, position: str
) -> None:
    """Train ``member``'s learning rates (moving past an edge the best sits at), write the best into ``folder``."""
    candidates = [{"learning_rate": rate} for rate in member.learning_rates]
    trials, best = [], None
    for candidate in candidates:
        logger.info(
            "recipe: training %s (%s), learning rate %g; %s", member.name, position, candidate["learning_rate"],
            clock.remaining(),
        )  # fmt: skip
        started = time.perf_counter()
        run, metrics = fit(config.replace(**candidate), data)
        seconds = round(time.perf_counter() - started, 3)  # a tiny training can take under 0.05 s
        clock.timed(started)
        trials.append(
            candidate | {"dev": metrics["dev"], "best_step": metrics["training"]["best_step"], "seconds": seconds}
        )
        score = (metrics["dev"]["accuracy"], metrics["dev"]["macro_f1"])
        if best is None or score > best[0]:
            best = (score, run, metrics, candidate)
        if candidate is candidates[-1] and len(candidates) < len(member.learning_rates) + EXTEND:
            beyond = next_candidate(candidates, best[3], [(t["dev"]["accuracy"], t["dev"]["macro_f1"]) for t in trials])
            if beyond is not None:
                candidates.append(beyond)
                clock.plan(1)
    _, run, metrics, kept = best
    search = {"settings": wanted, "trials": trials, "kept": kept, "extended": candidates[len(member.learning_rates) :]}
    with staged_folder(folder, overwrite=True) as staged:
        save_run(staged, run, run.model.mode.artifact_state(run.model), metrics | {"search": trials}, None)
        write_json_atomic(staged / SEARCH_FILE, search)


def _combine(output: Path, members: list[Member], config: RunConfig, data: TaskData) -> dict:
    """Weigh the members on dev, then write recipe.json, metrics.json and predictions."""
    runs = [load_single_run(output / MEMBERS / member.name) for member in members]
    labels = runs[0].pvp.labels
    dev = few_shot_split(config, data)[1]
    gold = np.array([labels.index(example.label) for example in dev])
    dev_probs = [_aligned(run, dev, labels) for run in runs]
    weights = member_weights(dev_probs, gold)
    entries, searches = [], []
    for member, run, probs, weight in zip(members, runs, dev_probs, weights, strict=True):
        search = json.loads((output / MEMBERS / member.name / SEARCH_FILE).read_text(encoding="utf-8"))
        searches.append(search)
        entries.append({
            "name": member.name, "mode": member.mode, "pattern_id": member.pattern_id, "pattern": member.pattern,
            "learning_rate": run.config.learning_rate, "steps": run.config.max_steps,
            "grid": [trial["learning_rate"] for trial in search["trials"]], "extended": search["extended"],
            "dev_accuracy": accuracy(probs, gold), "weight": weight, "kept": weight > 0,
        })  # fmt: skip
    kept = [i for i, weight in enumerate(weights) if weight > 0]
    recipe = Recipe([runs[i] for i in kept], labels, [weights[i] for i in kept])
    metrics = {"dev": _metrics(weighted_mean([dev_probs[i] for i in kept], recipe.weights), gold)}
    predictions = None
    if "test" in data.splits and data.splits["test"] and data.splits["test"][0].label is not None:
        predictions = recipe.predict(data.splits["test"])
        metrics["test"] = metrics_of(predictions, labels)
    write_json_atomic(output / "metrics.json", metrics)
    if predictions is not None:
        write_predictions(output / "predictions.jsonl", predictions)
    write_json_atomic(output / RECIPE_FILE, {
        "recipe": RECIPES[0], "labels": labels, "shots": config.shots, "seed": config.seed,
        "dev_examples": len(dev), "guessing_dev_accuracy": baseline_accuracy(gold, len(labels)),
        "member_rule": MEMBER_RULE, "rule": RULE, "training_seconds": _training_seconds(searches),
        "members": entries,
    })  # fmt: skip
    return metrics


def _training_seconds(searches: list[dict]) -> float | None:
    """The seconds every member's learning rates took to train, or None when a member was trained before
    ``search.json`` recorded them (the recipe's time is then unknown)."""
    trials = [trial for search in searches for trial in search["trials"]]
    return round(sum(trial["seconds"] for trial in trials), 1) if all("seconds" in t for t in trials) else None


def _aligned(run: Prompted, examples: list[Example], labels: list[str]) -> np.ndarray:
    """``run``'s probabilities (N, C) with the classes in ``labels``' order (a head orders them as the data does)."""
    probs = run.predict_proba(examples)
    return probs[:, [run.pvp.labels.index(label) for label in labels]]


def _metrics(probs: np.ndarray, gold: np.ndarray) -> dict:
    from promptlearn.training.metrics import classification_metrics

    return classification_metrics(gold, probs.argmax(axis=1), probs.shape[1])


@dataclass
class Recipe:
    """A loaded recipe: its kept member runs, their weights and the label order its probabilities use. It evaluates
    and predicts as a :class:`~promptlearn.run.prompted.Prompted` does, with the weighted mean of its members'
    probabilities."""

    runs: list[Prompted]
    labels: list[str]
    weights: list[float]

    @property
    def config(self) -> RunConfig:
        """The first member's settings (the data, columns and split the recipe was trained on)."""
        return self.runs[0].config

    @property
    def pvp(self):
        """The first kept member's PVP, whose labels are the recipe's (what ``evaluate`` scores against)."""
        return self.runs[0].pvp

    def predict_proba(self, examples: list[Example], encoded=None) -> np.ndarray:
        """The weighted mean of the members' class probabilities (N, C), in :attr:`labels` order."""
        return weighted_mean([_aligned(run, examples, self.labels) for run in self.runs], self.weights)

    def predict(self, examples: list[Example]) -> list[dict]:
        return [
            prediction_record(ex, self.labels, row)
            for ex, row in zip(examples, self.predict_proba(examples), strict=True)
        ]


def is_recipe(folder: str | Path) -> bool:
    """Whether ``folder`` holds a recipe (finished or interrupted) rather than a single run."""
    return (Path(folder) / MEMBERS).is_dir() or (Path(folder) / RECIPE_FILE).is_file()


def load_run(run_dir: str | Path, allow_other_base: bool = False) -> Prompted | Recipe:
    """A run folder rebuilt (:func:`promptlearn.run.folder.load_run`), or a recipe's kept members."""
    run_dir = Path(run_dir)
    if not is_recipe(run_dir):
        return load_single_run(run_dir, allow_other_base)
    if not (run_dir / RECIPE_FILE).is_file():
        raise PromptlearnError(
            f"{run_dir} is a recipe that did not finish (no {RECIPE_FILE}): run the same `promptlearn train --recipe` "
            "command again to finish it (trained members are kept)"
        )
    recipe = json.loads((run_dir / RECIPE_FILE).read_text(encoding="utf-8"))
    kept = kept_entries(recipe)
    runs = [load_single_run(run_dir / MEMBERS / entry["name"], allow_other_base) for entry in kept]
    return Recipe(runs, recipe["labels"], [entry["weight"] for entry in kept])


def kept_entries(recipe: dict) -> list[dict]:
    """The members ``recipe`` (its recipe.json) keeps, each with its ``weight`` (a recipe from before the weights,
    whose kept members weighed the same, gets 1 each)."""
    return [{"weight": 1.0} | entry for entry in recipe["members"] if entry["kept"]]


def member_runs(run: Prompted | Recipe) -> list[Prompted]:
    """The single runs behind ``run``: its members for a recipe, else itself."""
    return run.runs if isinstance(run, Recipe) else [run]
