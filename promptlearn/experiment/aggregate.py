"""Aggregate run records into summary rows: mean (std) over seeds per task x mode x K x pattern.

Rows per pattern, plus ``ensemble`` (per seed, the mean of the patterns' test probabilities) and
``mean`` (pooled over patterns and seeds) when a task x mode x K has several patterns. The std is
the population standard deviation (``numpy.std``, ddof=0), as LM-BFF's ``tools/gather_result.py``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from promptlearn.errors import PromptlearnError
from promptlearn.experiment.config import ZERO_SHOT
from promptlearn.experiment.runner import prediction_metrics, record_shape
from promptlearn.run.ensemble import member_weights, weighted_mean

ENSEMBLE = "ensemble"
POOLED = "mean"
#: a row whose most-predicted class takes at least this share of test predictions is flagged as collapsed
COLLAPSE_SHARE = 0.9
#: the test metrics of a record that names none (one class per example: single-label, multiple choice)
CLASS_METRICS = ("accuracy", "macro_f1")
#: summary.csv's first columns, and those it has when some row's labels are classes
IDENTITY_COLUMNS = ("task", "mode", "shots", "pattern", "runs", "failed")
CLASS_COLUMNS = ("top_class_share", "majority_accuracy")


@dataclass
class SummaryRow:
    """Mean and std over a group's finished runs.

    ``test`` maps each test metric to (mean, std), in the order of the records' ``metric_names`` (a task shape's
    own: regression's Pearson, Spearman and MSE; multi-label's micro-, macro-, samples-F1 and subset accuracy),
    else :data:`CLASS_METRICS`; the first is the headline, which ``dev`` holds for dev. The top-class share and
    the majority-class baseline are None where a label is not one class per example.
    """

    task: str
    mode: str
    shots: int | str | None
    pattern: str
    runs: int
    failed: int
    test: dict[str, tuple[float, float]]
    dev: tuple[float, float] | None
    top_class_share: float | None
    majority_accuracy: float | None
    trainable_parameters: int | None
    wall_seconds: float | None

    @property
    def metric_names(self) -> list[str]:
        return list(self.test)

    @property
    def score(self) -> tuple[float, float]:
        """The headline test metric's mean and std."""
        return self.test[self.metric_names[0]]

    @property
    def collapsed(self) -> bool:
        return self.top_class_share is not None and self.top_class_share >= COLLAPSE_SHARE


def metric_names(record: dict) -> list[str]:
    """The test metrics a finished run's record reports, headline first."""
    return list(record.get("metric_names", CLASS_METRICS))


def test_score(record: dict) -> float:
    """A finished run's headline test metric: accuracy, or its shape's first report metric (regression: Pearson)."""
    return record["test"][metric_names(record)[0]]


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and population standard deviation (ddof=0) of ``values``."""
    if not values:
        raise PromptlearnError("mean_std needs at least one value")
    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()), float(array.std())


Loader = Callable[[str], "dict[str, tuple[np.ndarray, np.ndarray]] | None"]


def ensemble_records(
    records: list[dict], load_predictions: Loader, ensembles: dict[str, list[str]] | None = None, filtered: bool = False
) -> list[dict]:
    """Ensemble records: the mean class probabilities of several finished runs of one task x K x seed.

    One per task x mode x K x seed with several finished patterns (pattern ``ensemble``), and one per
    named ensemble of ``ensembles`` (name -> modes) and task x K x seed: every finished run of those
    modes, all patterns (its mode is the ensemble's name; see :func:`_named_cells` for ``zero-shot``).
    ``load_predictions(run_id)`` gives a run's
    ``{"test": (probs (N, C), gold (N,)), "dev": ...}``; the dev metrics are those of the mean dev
    probabilities when every member has them (trained runs, scored on their sampled dev split).
    ``filtered``: a named ensemble weighs its members by their dev accuracy above guessing
    (:func:`promptlearn.run.ensemble.member_weights`); those at or below it are listed in its record's ``left_out``.
    """
    finished = [r for r in records if r["status"] == "ok"]
    groups: dict[tuple, list[dict]] = {}
    for record in finished:
        groups.setdefault((record["task"], record["mode"], record["shots"], record["seed"]), []).append(record)
    combined = [_ensemble(members, load_predictions, mode, 2) for (_, mode, _, _), members in groups.items()]
    for name, modes in (ensembles or {}).items():
        named = _named_cells([record for record in finished if record["mode"] in modes])
        combined += [_ensemble(members, load_predictions, name, 1, filtered) for members in named.values()]
    return [record for record in combined if record is not None]


def _named_cells(members: list[dict]) -> dict[tuple, list[dict]]:
    """A named ensemble's runs per task x K x seed cell.

    A zero-shot run trains nothing, so it is the same run for every K and seed: it joins every cell of
    its task's trained runs. Only where a task has no finished trained run of the ensemble do its
    zero-shot runs form a cell of their own (K = 0).
    """
    cells: dict[tuple, list[dict]] = {}
    for record in members:
        if record["mode"] != ZERO_SHOT:
            cells.setdefault((record["task"], record["shots"], record["seed"]), []).append(record)
    trained = list(cells)
    for record in members:
        if record["mode"] == ZERO_SHOT:
            joined = [key for key in trained if key[0] == record["task"]]
            for key in joined or [(record["task"], None, None)]:
                cells.setdefault(key, []).append(record)
    return cells


def _ensemble(
    members: list[dict], load_predictions: Loader, mode: str, at_least: int, filtered: bool = False
) -> dict | None:
    """The record of ``members``' mean probabilities, or None when fewer than ``at_least`` have predictions;
    ``filtered``: weighted by :func:`~promptlearn.run.ensemble.member_weights` on dev (equal weights otherwise)."""
    loaded = [load_predictions(m["run_id"]) for m in members]
    if len(members) < at_least or any(item is None for item in loaded):
        return None
    first = members[0]
    if any(sorted(m["labels"]) != sorted(first["labels"]) for m in members):
        raise PromptlearnError(f"{first['task']}/{mode}: the ensemble's runs have different labels")
    # a head's runs order the labels as the data does, cloze runs as the verbalizer: align on the first's order
    loaded = [_in_order(item, m["labels"], first["labels"]) for item, m in zip(loaded, members, strict=True)]
    left_out, weights = [], None
    # the member rule reads dev accuracy of one label per example: other shapes average every member
    if filtered and record_shape(first) is None and all("dev" in item for item in loaded):
        weights = member_weights([item["dev"][0] for item in loaded], loaded[0]["dev"][1])
        left_out = [m["run_id"] for m, weight in zip(members, weights, strict=True) if not weight]
        members, loaded, weights = zip(
            *[(m, i, w) for m, i, w in zip(members, loaded, weights, strict=True) if w], strict=True
        )
    means = {}
    for split in ("test", "dev"):
        if not all(split in item for item in loaded):
            continue
        gold = loaded[0][split][1]
        if any(not np.array_equal(item[split][1], gold) for item in loaded):
            raise PromptlearnError(
                f"{first['task']}/{mode}: the ensemble's runs were scored on different {split} examples"
            )
        probs = [item[split][0] for item in loaded]
        means[split] = (gold, np.mean(probs, axis=0) if weights is None else weighted_mean(probs, weights))
    shape, decision = record_shape(first), _decision(members, means.get("dev"))
    metrics = {split: prediction_metrics(*means[split], shape, decision) if split in means else None
               for split in ("test", "dev")}  # fmt: skip
    shaped = {key: first[key] for key in ("task_type", "metric_names", "labels") if "task_type" in first}
    if decision is not None:
        shaped["decision"] = decision
    return shaped | {
        "run_id": f"{first['run_id']}-{ENSEMBLE}"
        if mode == first["mode"]
        else f"{first['task']}__{mode}__k{first['shots']}__s{first['seed']}",
        "task": first["task"],
        "mode": mode,
        "pattern_id": ENSEMBLE,
        "shots": first["shots"],
        "seed": first["seed"],
        "status": "ok",
        "dev": metrics["dev"],
        "test": metrics["test"],
        "members": [m["run_id"] for m in members],
        **({"left_out": left_out} if left_out else {}),
        **({"weights": [float(w) for w in weights]} if weights is not None else {}),
        "trainable_parameters": None,
        "wall_seconds": float(sum(m["wall_seconds"] for m in members if m.get("wall_seconds") is not None)),
    }


def _decision(members: list[dict], dev: tuple[np.ndarray, np.ndarray] | None) -> dict | None:
    """The decision rule of an ensemble whose members fitted one (multi-label: a threshold): fitted again on the
    mean dev probabilities when every member has them, else the mean of the members' rules (zero-shot members
    fitted theirs on the given dev split, trained ones on their own K-shot dev)."""
    if "decision" not in members[0]:
        return None
    if dev is not None:
        return record_shape(members[0]).choose_decision(*dev)
    return {key: float(np.mean([m["decision"][key] for m in members])) for key in members[0]["decision"]}


def _in_order(predictions: dict, labels: list[str], order: list[str]) -> dict:
    """``predictions`` (split -> (probs (N, C), gold) over ``labels``) with the classes in ``order``; gold is (N,)
    class indices, or (N, C) multi-hot rows (multi-label), whose columns move with the probabilities'."""
    if labels == order:  # already aligned (a regression's gold is a score, not a class to move)
        return predictions
    columns = [labels.index(label) for label in order]
    position = np.array([order.index(label) for label in labels])
    return {
        split: (probs[:, columns], gold[:, columns] if gold.ndim == 2 else position[gold])
        for split, (probs, gold) in predictions.items()
    }


def summarize(records: list[dict]) -> list[SummaryRow]:
    """Summary rows in grid order: per pattern, then ``ensemble`` and ``mean`` where there are several."""
    groups: dict[tuple, list[dict]] = {}
    for record in records:
        key = (record["task"], record["mode"], record["shots"])
        groups.setdefault(key, []).append(record)
    rows = []
    for (task, mode, shots), members in groups.items():
        by_pattern: dict[str, list[dict]] = {}
        for record in members:
            by_pattern.setdefault(str(record["pattern_id"]), []).append(record)
        singles = [p for p in by_pattern if p != ENSEMBLE]
        for pattern, group in by_pattern.items():
            row = _row(task, mode, shots, pattern, group)
            if row is not None:
                rows.append(row)
        if len(singles) > 1:
            pooled = [r for p in singles for r in by_pattern[p]]
            row = _row(task, mode, shots, POOLED, pooled)
            if row is not None:
                rows.append(row)
    return rows


def _row(task: str, mode: str, shots, pattern: str, group: list[dict]) -> SummaryRow | None:
    ok = [r for r in group if r["status"] == "ok"]
    if not ok:
        return None
    names = metric_names(ok[0])
    dev = [r["dev"][names[0]] for r in ok if r.get("dev")]
    trainable = [r["trainable_parameters"] for r in ok if r.get("trainable_parameters") is not None]
    wall = [r["wall_seconds"] for r in ok if r.get("wall_seconds") is not None]
    classes = "top_class_share" in ok[0]["test"]  # one class per example: how often the top class is predicted
    return SummaryRow(
        task=task,
        mode=mode,
        shots=shots,
        pattern=pattern,
        runs=len(ok),
        failed=len(group) - len(ok),
        test={name: mean_std([r["test"][name] for r in ok]) for name in names},
        dev=mean_std(dev) if dev else None,
        top_class_share=float(np.mean([r["test"]["top_class_share"] for r in ok])) if classes else None,
        majority_accuracy=ok[0]["test"]["majority_accuracy"] if classes else None,
        trainable_parameters=trainable[0] if trainable else None,
        wall_seconds=float(np.mean(wall)) if wall else None,
    )


def summary_csv(rows: list[SummaryRow]) -> str:
    """All summary rows as CSV (fractions rounded to 4 decimals, ``K`` 0 for zero-shot).

    Every metric has its own columns, named after it (``test_accuracy``, ``test_pearson``, ``test_micro_f1``
    ...): a grid of several task shapes leaves a row's foreign columns empty. The columns of classes (top-class
    share, majority baseline, collapsed) are there when some row has classes.
    """
    if not rows:
        return "task\n"
    values = [_csv_values(row) for row in rows]
    metrics = [key for row in values for key in row if key.startswith("test_")]
    dev = [key for row in values for key in row if key.startswith("dev_")]
    classes = any(row.top_class_share is not None for row in rows)
    fields = [*IDENTITY_COLUMNS, *dict.fromkeys(metrics), *dict.fromkeys(dev)]
    fields += [*(CLASS_COLUMNS if classes else []), "trainable_parameters", "wall_seconds"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields + (["collapsed"] if classes else []), lineterminator="\n")
    writer.writeheader()
    writer.writerows(values)
    return buffer.getvalue()


def _csv_values(row: SummaryRow) -> dict:
    """One row's CSV cells by column name; metrics rounded to 4 decimals."""
    values: dict = dict(zip(IDENTITY_COLUMNS, (row.task, row.mode, shot_label(row.shots), row.pattern, row.runs,
                                               row.failed), strict=True))  # fmt: skip
    for name, (mean, std) in row.test.items():
        values |= {f"test_{name}": round(mean, 4), f"test_{name}_std": round(std, 4)}
    dev, headline = row.dev or (None, None), row.metric_names[0]
    values |= {f"dev_{headline}": _round(dev[0]), f"dev_{headline}_std": _round(dev[1])}
    if row.top_class_share is not None:
        values |= {"top_class_share": round(row.top_class_share, 4), "majority_accuracy": _round(row.majority_accuracy)}
        values["collapsed"] = row.collapsed
    return values | {"trainable_parameters": row.trainable_parameters, "wall_seconds": _round(row.wall_seconds)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def shot_label(shots) -> str:
    """``K`` as shown in tables: 0 for zero-shot, ``all`` for the whole train split."""
    return "0" if shots is None else str(shots)
