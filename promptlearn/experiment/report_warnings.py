"""What a reader of a grid's results should not miss: collapsed predictions, settings at a search grid's edge,
failed runs. Frozen prompt tuning on small encoders often predicts one class for everything; a mean
over seeds hides it, so the report names it (issue 25; OpenPrompt#176, P-tuning-v2#5, peft#2642)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from promptlearn.experiment.aggregate import COLLAPSE_SHARE, ENSEMBLE, Loader, SummaryRow, shot_label
from promptlearn.experiment.tables import kept_candidate

#: a searched key is checked for edges only with this many distinct values (with two, every choice is an edge)
EDGE_MIN_VALUES = 3
#: a run's best checkpoint is read as "at the last evaluation" only when it evaluated at least this often
#: (after one or two evaluations the last is the best as often as not, and says nothing of the budget)
MIN_EVALUATIONS = 3


@dataclass(frozen=True)
class GridWarning:
    """One thing to look at: the task it concerns (None: the whole grid) and a sentence in plain text."""

    task: str | None
    text: str


def grid_warnings(rows: list[SummaryRow], records: list[dict], load_predictions: Loader) -> list[GridWarning]:
    """Every warning, in order: collapsed rows, one-label runs, grid edges, signs of under-training per task and
    mode, then failed runs."""
    return [
        *_collapsed_rows(rows),
        *_one_label_runs(records, load_predictions),
        *_grid_edges(records),
        *_under_training(records),
        *_failed(records),
    ]


def _collapsed_rows(rows: list[SummaryRow]) -> list[GridWarning]:
    return [
        GridWarning(row.task, f"{_cell(row.mode, row.shots, row.pattern)}: {row.top_class_share:.0%} of test "
                 f"predictions go to one class (at least {COLLAPSE_SHARE:.0%}: a majority-class collapse)")
        for row in rows
        if row.collapsed
    ]  # fmt: skip


def _one_label_runs(records: list[dict], load_predictions: Loader) -> list[GridWarning]:
    """Runs whose every prediction on test (or on their dev split) is the same label, grouped per cell
    (task x mode x K x pattern x label x splits) and naming the seeds."""
    seeds: dict[tuple, list] = {}
    for record in records:
        if record["status"] != "ok" or str(record["pattern_id"]) == ENSEMBLE:  # ensembles: their members are checked
            continue
        labels = {}  # split -> the one label it predicts
        for split, (probs, gold) in (load_predictions(record["run_id"]) or {}).items():
            if gold.ndim == 2:  # multi-label: each label decided on its own, no one label per example to repeat
                continue
            predicted = np.unique(probs.argmax(axis=1))
            if len(predicted) == 1:
                labels[split] = record["labels"][int(predicted[0])]
        for label in dict.fromkeys(labels.values()):
            splits = " and ".join(split for split, one in labels.items() if one == label)
            cell = (record["task"], record["mode"], record["shots"], str(record["pattern_id"]), label, splits)
            seeds.setdefault(cell, []).append(record["seed"])
    return [
        GridWarning(task, f"{_cell(mode, shots, pattern)}: {_runs(found)} predict{'s' if len(found) == 1 else ''} "
                    f"{label!r} for every {splits} example")
        for (task, mode, shots, pattern, label, splits), found in seeds.items()
    ]  # fmt: skip


def _grid_edges(records: list[dict]) -> list[GridWarning]:
    """Kept settings at the smallest or largest value of a searched key: the best may lie beyond the grid.

    Grouped per task x mode x K x pattern x key x value, naming the seeds, so a grid of five seeds reads
    as one line per cell.
    """
    seeds: dict[tuple, list] = {}
    for record in records:
        if record["status"] != "ok" or not record.get("search") or "study" in record:  # a study draws, not a grid
            continue
        kept = kept_candidate(record)
        for key, value in kept.items():
            values = sorted({trial[key] for trial in record["search"]}) if _numeric(kept[key]) else []
            if key == "dev" or len(values) < EDGE_MIN_VALUES or value not in (values[0], values[-1]):
                continue
            edge = "smallest" if value == values[0] else "largest"
            cell = (record["task"], record["mode"], record["shots"], str(record["pattern_id"]), key, value, edge)
            seeds.setdefault((*cell, tuple(values)), []).append(record["seed"])
    return [
        GridWarning(task, f"{_cell(mode, shots, pattern)}: {_runs(found)} kept {key}={value}, the {edge} value "
                    f"searched ({', '.join(map(str, values))}): the best setting may lie beyond the grid")
        for (task, mode, shots, pattern, key, value, edge, values), found in seeds.items()
    ]  # fmt: skip


def _under_training(records: list[dict]) -> list[GridWarning]:
    """Per task x mode x K, in how many runs the kept setting sat at an edge of its searched grid, and in how many
    the best dev checkpoint was the last evaluation: both say that the best may lie beyond the budget searched
    (issue 29), which a mean over seeds hides."""
    cells: dict[tuple, dict[str, int]] = {}
    for record in records:
        if record["status"] != "ok" or str(record["pattern_id"]) == ENSEMBLE or record.get("dev") is None:
            continue
        counts = cells.setdefault((record["task"], record["mode"], record["shots"]), dict.fromkeys(_COUNTS, 0))
        counts["runs"] += 1
        counts["edge"] += bool(_edge_keys(record))
        history = record.get("history") or []
        counts["last"] += len(history) >= MIN_EVALUATIONS and record.get("best_step") == history[-1]["step"]
    found = []
    for (task, mode, shots), counts in cells.items():
        cell, runs = f"{mode}, K={shot_label(shots)}", counts["runs"]
        if counts["edge"]:
            found.append(GridWarning(task, f"{cell}: chosen value at the grid's edge in {counts['edge']}/{runs} runs "
                                     "(search_extend moves the grid past it)"))  # fmt: skip
        if counts["last"]:
            last = f"best checkpoint at the last evaluation in {counts['last']}/{runs} runs"
            found.append(GridWarning(task, f"{cell}: {last}: dev was still improving when training stopped (more "
                                     "steps, or steps: auto)"))  # fmt: skip
    return found


_COUNTS = ("runs", "edge", "last")


def _edge_keys(record: dict) -> list[str]:
    """The searched keys whose kept value is the smallest or largest of at least :data:`EDGE_MIN_VALUES` tried."""
    if not record.get("search") or "study" in record:  # a study draws, not a grid
        return []
    kept = kept_candidate(record)
    edges = []
    for key, value in kept.items():
        values = sorted({trial[key] for trial in record["search"]}) if key != "dev" and _numeric(value) else []
        if len(values) >= EDGE_MIN_VALUES and value in (values[0], values[-1]):
            edges.append(key)
    return edges


def _failed(records: list[dict]) -> list[GridWarning]:
    failed = [r for r in records if r["status"] != "ok"]
    if not failed:
        return []
    return [GridWarning(None, f"{len(failed)} run{'s' if len(failed) > 1 else ''} failed (see Failed runs below)")]


def _numeric(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _runs(seeds: list) -> str:
    """``seed 13`` / ``seeds 13, 21``; a zero-shot run has no seed."""
    known = [str(seed) for seed in seeds if seed is not None]
    if not known:
        return "the run"
    return f"seed{'s' if len(known) > 1 else ''} {', '.join(known)}"


def _cell(mode: str, shots, pattern: str) -> str:
    return f"{mode}, K={shot_label(shots)}, pattern {pattern}"
