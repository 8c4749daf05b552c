"""A synthetic Optuna objective for the study tests: no model, dev accuracy from the learning rate alone.

Module-level, so processes started with ``spawn`` can run it. Each trial evaluates at steps 1..3 and its
accuracy falls with the learning rate, so high rates sit below the median of the earlier trials and are
pruned. Every finished trial appends ``<pid> <learning rate> <state>`` to ``log`` (drawn rates differ, so they
name trials), so a test can count who trained what.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

from promptlearn.experiment.optuna_search import OptunaSearch, run_study

SPACE = {"backend": "optuna", "space": {"learning_rate": {"log_uniform": [1.0e-5, 1.0e-1]}}}
STEPS = 3


def search(trials: int, startup_trials: int = 2) -> OptunaSearch:
    return OptunaSearch.parse(SPACE | {"trials": trials, "startup_trials": startup_trials}, "search")


def accuracy(learning_rate: float) -> float:
    """1.0 at 1e-5 down to 0.0 at 1e-1: the lower the rate, the better."""
    return (-1 - math.log10(learning_rate)) / 4


def objective(log: Path, pause: float):
    """An objective that sleeps ``pause`` seconds per evaluation and logs how each trial ended."""

    def train(params: dict, report, folder: Path) -> dict:
        value = accuracy(params["learning_rate"])
        try:
            for step in range(1, STEPS + 1):
                time.sleep(pause)
                report(step, value)
        except BaseException:  # optuna.TrialPruned, or the test killing the process (then nothing is written)
            _append(log, f"{os.getpid()} {params['learning_rate']!r} pruned")
            raise
        _append(log, f"{os.getpid()} {params['learning_rate']!r} complete")
        return {"accuracy": value, "macro_f1": value}

    return train


def _append(log: Path, line: str) -> None:
    with open(log, "a", encoding="utf-8") as out:  # one short write per line: O_APPEND keeps lines whole
        out.write(line + "\n")


def study_worker(folder: Path, trials: int, log: Path, pause: float, ready: int) -> None:
    """A process of the multi-process tests: waits until ``ready`` processes are up, then works on the study."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"ready-{os.getpid()}").touch()
    while len(list(folder.glob("ready-*"))) < ready:
        time.sleep(0.05)
    run_study(folder, search(trials), 13, objective(log, pause), wait=False)
