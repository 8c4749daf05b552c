"""An Optuna search of a mode's hyperparameters: ``search: {backend: optuna, trials: N, space: {...}}``.

Instead of training every candidate of a grid, a run trains ``trials`` candidates that Optuna's TPE sampler
draws from ``space``, and stops a trial whose dev accuracy at an evaluation is below the median of earlier
trials at the same step (Optuna's ``MedianPruner``, fed by the trainer's evaluations). The run keeps the
best completed trial on dev (accuracy, then macro-F1, then the earliest): selection never reads test.

Optuna rather than our own sampler: TPE, the pruners and a study several processes append to are what
the Hugging Face ``Trainer`` and SetFit already use for this, and users know them.

The study is a journal file in the run's study folder (``<output>/studies/<run id>__<fingerprint>/``), so
every process of the grid can train trials of it, one at a time each, and a restart resumes it: finished
trials are kept, a trial whose process died is tried again with the same values. Each process holds a lock
on every trial it trains (as it holds a run, :mod:`promptlearn.experiment.shard`): that tells a dead
process's trial from a live one's. A new trial is asked for under the study's lock, so no more than
``trials`` are ever finished. Trial ``k`` is drawn by a sampler seeded with the run's seed and ``k``, so
the same seed draws the same trials from the same history.

Optuna is imported only when an experiment asks for it (``pip install 'promptlearn[optuna]'``).
"""

from __future__ import annotations

import fcntl
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from promptlearn.errors import PromptlearnError
from promptlearn.outputs import staged_folder

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

logger = logging.getLogger(__name__)

BACKEND = "optuna"
SEARCH_KEYS = ("backend", "trials", "space", "startup_trials")
#: each kind of dimension and what its value is
KINDS = {
    "log_uniform": "[low, high], 0 < low < high, drawn on a log scale (learning rates)",
    "uniform": "[low, high], low < high",
    "int": "[low, high], integers, low <= high (steps, batch sizes)",
    "categorical": "a non-empty list of values (numbers, strings, booleans)",
}
#: completed trials before pruning starts (the MedianPruner's own default)
DEFAULT_STARTUP_TRIALS = 5
STUDIES = "studies"
JOURNAL = "journal.log"
STUDY_LOCK = ".study.lock"
STUDY_NAME = "search"
#: seconds between looks at trials that other processes are training
POLL_SECONDS = 1.0

Report = Callable[[int, float], None]
#: trains one trial: (its values, report(step, dev accuracy) after each evaluation, the folder for its files)
#: -> its dev metrics (``accuracy``, ``macro_f1``); ``report`` raises ``optuna.TrialPruned`` to stop it
Objective = Callable[[dict, Report, Path], dict]


@dataclass(frozen=True)
class Dimension:
    """One searched hyperparameter: its ``name``, its ``kind`` (a key of :data:`KINDS`) and its ``values``."""

    name: str
    kind: str
    values: tuple

    def __str__(self) -> str:
        if self.kind == "categorical":
            return f"{self.name} in {list(self.values)}"
        return f"{self.name} {self.kind.replace('_', '-')} {self.values[0]}..{self.values[1]}"


@dataclass(frozen=True)
class OptunaSearch:
    """A validated ``search: {backend: optuna, ...}``: ``trials`` finished trials (completed or pruned) per run."""

    trials: int
    space: tuple[Dimension, ...]
    startup_trials: int = DEFAULT_STARTUP_TRIALS

    @classmethod
    def parse(cls, values: dict, origin: str) -> OptunaSearch:
        """Check a YAML search with ``backend: optuna``; every problem names its key under ``origin``."""
        unknown = sorted(set(values) - set(SEARCH_KEYS), key=str)
        if unknown:
            raise PromptlearnError(
                f"{origin}: unknown key {unknown[0]!r}; an Optuna search has {', '.join(SEARCH_KEYS)}"
            )
        if values["backend"] != BACKEND:
            raise PromptlearnError(
                f"{origin}.backend must be {BACKEND!r} (or leave backend out for a grid), got {values['backend']!r}"
            )
        trials, startup = values.get("trials"), values.get("startup_trials", DEFAULT_STARTUP_TRIALS)
        if not _integer(trials) or trials < 1:
            raise PromptlearnError(f"{origin}.trials must be a positive integer (trials per run), got {trials!r}")
        if not _integer(startup) or startup < 0:
            raise PromptlearnError(
                f"{origin}.startup_trials must be an integer >= 0 (completed trials before pruning), got {startup!r}"
            )
        space = values.get("space")
        if not isinstance(space, dict) or not space:
            raise PromptlearnError(
                f"{origin}.space maps each hyperparameter to its distribution, e.g. "
                "{learning_rate: {log_uniform: [1.0e-5, 1.0e-3]}, max_steps: {int: [50, 200]}}"
            )
        dimensions = tuple(_dimension(str(name), spec, f"{origin}.space.{name}") for name, spec in space.items())
        try:
            import optuna  # noqa: F401  (checked now, so a grid without it fails before its first run)
        except ImportError:
            raise PromptlearnError(
                f"{origin}.backend: optuna needs the optuna package: pip install 'promptlearn[optuna]'"
            ) from None
        return cls(trials, dimensions, startup)

    def names(self) -> list[str]:
        return [d.name for d in self.space]

    def edges(self) -> list[dict]:
        """Values at the space's edges (each bound, each category), to check them before anything runs."""
        first = {d.name: d.values[0] for d in self.space}
        return [first | {d.name: value} for d in self.space for value in d.values]

    def distributions(self) -> dict:
        """The space as Optuna distributions, by name."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        build = {
            "log_uniform": lambda v: FloatDistribution(v[0], v[1], log=True),
            "uniform": lambda v: FloatDistribution(v[0], v[1]),
            "int": lambda v: IntDistribution(v[0], v[1]),
            "categorical": lambda v: CategoricalDistribution(v),
        }
        return {d.name: build[d.kind](d.values) for d in self.space}

    def to_dict(self) -> dict:
        """What decides the trials (part of a run's fingerprint)."""
        return {"backend": BACKEND} | asdict(self)

    def __str__(self) -> str:
        return (
            f"Optuna, {self.trials} trials (TPE; pruned below the median after {self.startup_trials} completed): "
            + ", ".join(map(str, self.space))
        )


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _dimension(name: str, spec, origin: str) -> Dimension:
    kinds = ", ".join(f"{kind}: {text}" for kind, text in KINDS.items())
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in KINDS:
        raise PromptlearnError(f"{origin}: unknown distribution {spec!r}; give one of {kinds}")
    kind, values = next(iter(spec.items()))
    if kind == "categorical":
        if not isinstance(values, list) or not values or not all(_category(v) for v in values):
            raise PromptlearnError(f"{origin}.categorical must be {KINDS[kind]}, got {values!r}")
        return Dimension(name, kind, tuple(values))
    check = _integer if kind == "int" else _number
    ordered = isinstance(values, list) and len(values) == 2 and all(check(v) for v in values)
    if ordered:
        low, high = values
        ordered = low <= high if kind == "int" else low < high and (kind != "log_uniform" or low > 0)
    if not ordered:
        raise PromptlearnError(f"{origin}.{kind} must be {KINDS[kind]}, got {values!r}")
    return Dimension(name, kind, (values[0], values[1]) if kind == "int" else (float(values[0]), float(values[1])))


def _category(value) -> bool:
    return value is None or isinstance(value, bool | str) or _number(value)


def run_study(folder: Path, search: OptunaSearch, seed: int, objective: Objective, wait: bool = True) -> list:
    """Train trials of the study in ``folder`` until ``search.trials`` are finished or taken; returns every trial.

    ``wait``: also wait for the trials other processes are training (the process that reports the run does);
    without it, return as soon as no trial is left to start (a process helping with another's run).
    Exceptions of ``objective`` other than pruning mark the trial failed and propagate.
    """
    import optuna

    from promptlearn.experiment.shard import exclusive  # (it loads torch: not for checking a search)

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial is ours to log
    folder.mkdir(parents=True, exist_ok=True)
    with exclusive(folder / STUDY_LOCK):
        study = optuna.create_study(
            study_name=STUDY_NAME, storage=_journal(folder / JOURNAL), direction="maximize", load_if_exists=True,
            pruner=optuna.pruners.MedianPruner(n_startup_trials=search.startup_trials),
        )  # fmt: skip
    distributions = search.distributions()
    while True:
        trial = held = None
        with exclusive(folder / STUDY_LOCK):
            trials = _reap(study, folder)
            finished = [t for t in trials if t.state.is_finished() and t.state != optuna.trial.TrialState.FAIL]
            running = [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]
            if len(finished) + len(running) < search.trials:
                # trial numbers count every trial of the study, so the next one's is known before it is asked
                study.sampler = optuna.samplers.TPESampler(seed=(seed * 1_000_003 + len(trials)) % 2**32)
                trial = study.ask(distributions)
                held = _hold(folder, trial.number)
            elif not running or not wait:
                return study.get_trials()
        if trial is None:
            time.sleep(POLL_SECONDS)
            continue
        try:
            _train(study, trial, objective, folder)
        finally:
            os.close(held)


def _journal(path: Path):
    """Optuna's journal file storage: ``JournalFileBackend`` since optuna 4, ``JournalFileStorage`` before."""
    from optuna.storages import JournalStorage, journal

    backend = getattr(journal, "JournalFileBackend", None)
    if backend is None:
        from optuna.storages import JournalFileStorage as backend
    return JournalStorage(backend(str(path)))


def _reap(study, folder: Path) -> list:
    """Mark failed every running trial that no process holds (its process died) and queue its values again."""
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        fd = _lock_file(folder, trial.number)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a live process trains it
        finally:
            os.close(fd)
        logger.warning("%s: trial %d was left by a process that stopped; trying its values again", folder, trial.number)
        study.tell(trial.number, state=TrialState.FAIL)
        study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
    return study.get_trials(deepcopy=False)


def _lock_file(folder: Path, number: int) -> int:
    return os.open(folder / f".trial-{number}.lock", os.O_CREAT | os.O_RDWR, 0o644)


def _hold(folder: Path, number: int) -> int:
    """Lock trial ``number`` for this process (released when the descriptor is closed, or the process dies)."""
    fd = _lock_file(folder, number)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def trial_folder(folder: Path, number: int) -> Path:
    return folder / f"trial-{number:04d}"


def _train(study, trial, objective: Objective, folder: Path) -> None:
    """Train one trial, writing its folder whole, and tell the study how it ended (completed, pruned, failed)."""
    import optuna

    def report(step: int, accuracy: float) -> None:
        trial.report(accuracy, step)
        if trial.should_prune():
            raise optuna.TrialPruned(f"dev accuracy {accuracy:.3f} at step {step} is below the median")

    try:
        with staged_folder(trial_folder(folder, trial.number), overwrite=True) as staging:
            dev = objective(dict(trial.params), report, staging)
    except optuna.TrialPruned as pruned:
        logger.info("%s: trial %d pruned: %s", folder.name, trial.number, pruned)
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        return
    except BaseException:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        raise
    trial.set_user_attr("dev", {"accuracy": dev["accuracy"], "macro_f1": dev["macro_f1"]})
    study.tell(trial, dev["accuracy"])
    logger.info("%s: trial %d: dev accuracy %.3f", folder.name, trial.number, dev["accuracy"])


def kept_trial(trials: list[FrozenTrial]) -> FrozenTrial:
    """The completed trial a run keeps: best dev accuracy, then dev macro-F1, then the earliest."""
    from optuna.trial import TrialState

    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete:
        raise PromptlearnError(
            "every trial of the Optuna search was pruned or failed; give more trials or a larger startup_trials"
        )
    return max(complete, key=lambda t: (t.user_attrs["dev"]["accuracy"], t.user_attrs["dev"]["macro_f1"], -t.number))


def study_report(trials: list[FrozenTrial], folder: Path, output: Path) -> dict:
    """A run record's account of its study: ``search`` (each completed trial's values and dev metrics, as a grid's
    candidates are listed) and ``study`` (finished, pruned and failed trials, the kept one and its folder)."""
    from optuna.trial import TrialState

    kept = kept_trial(trials)
    ordered = sorted(trials, key=lambda t: t.number)
    count = {state: sum(t.state == state for t in ordered) for state in TrialState}
    return {
        "search": [{**t.params, "dev": t.user_attrs["dev"]} for t in ordered if t.state == TrialState.COMPLETE],
        "study": {
            "backend": BACKEND,
            "trials": count[TrialState.COMPLETE] + count[TrialState.PRUNED],
            "pruned": count[TrialState.PRUNED],
            "failed": count[TrialState.FAIL],
            "kept": kept.number,
            "folder": str(trial_folder(folder, kept.number).relative_to(output)),
            "pruned_at": {t.number: max(t.intermediate_values) for t in ordered if t.state == TrialState.PRUNED},
        },
    }
