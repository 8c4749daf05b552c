"""PET in ``promptlearn fewshot``: the pseudo-modes ``pet-ensemble``, ``pet-distill`` and ``ipet``.

Each is one cell per task x K x seed over all the task's patterns. The cell runs (or resumes) a PET
pipeline in ``<output>/pet/<task>__g<generations>__k<K>__s<seed>/`` with PET's defaults (3
repetitions, wmean, T = 2, scale factor 5), shared by ``pet-ensemble`` and ``pet-distill``, and
reports on the test split, as its runs predict (calibrated, demonstration draws averaged): the first
generation's ensemble (``pet-ensemble``, which trains no distilled classifier), or the distilled final
classifier (``pet-distill``; ``ipet``: after 2 iPET generations).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from promptlearn import api
from promptlearn.errors import PromptlearnError
from promptlearn.pet.config import PET_MODES, PetConfig
from promptlearn.pet.distill import FINAL
from promptlearn.pet.pipeline import Pipeline
from promptlearn.run.config import RunConfig


def cell_folder(output: str | Path, task: str, mode: str, shots, seed: int) -> Path:
    generations = PET_MODES[mode][0]
    return Path(output) / "pet" / f"{task}__g{generations}__k{shots}__s{seed}"


def run_cell(
    mode: str, config: RunConfig, patterns: list[tuple[int, str]], folder: Path, test_rows: list[int] | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Run or resume the cell's pipeline; returns the (N, C) test probabilities of what ``mode`` evaluates
    (as its runs predict: demonstrations averaged, calibrated), the (N,) gold label indices and the label
    order. ``pet-ensemble`` stops at the ensemble: no distilled classifier.

    ``test_rows``: the grid's test subset, as indices into the test split (None: the whole split), so
    these cells are scored on the same examples as every other run of the grid. The pipeline itself
    keeps the whole split, so one pipeline serves any subset.
    """
    generations, evaluated = PET_MODES[mode]
    pet = PetConfig(
        base=config, patterns=[text for _, text in patterns], pattern_ids=[pid for pid, _ in patterns],
        generations=generations,
    )  # fmt: skip
    state, _ = Pipeline(pet, folder).run(distill_final=evaluated == "final")
    rows = list(range(len(state.test))) if test_rows is None else test_rows
    test = [state.test[i] for i in rows]
    gold = np.array([state.labels.index(ex.label) for ex in test], dtype=np.int64)
    if evaluated == "ensemble":
        return state.probabilities(state.generations[0], "test")[rows], gold, state.labels
    if not (folder / FINAL / "metrics.json").is_file():
        raise PromptlearnError(f"{mode}: the distilled classifier was not trained (see {folder})")
    run = api.load_run(folder / FINAL)
    return run.predict_proba(test), gold, state.labels
