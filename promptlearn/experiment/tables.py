"""The cells of the report's tables, shared by summary.md and report.html so both show the same numbers."""

from __future__ import annotations

from promptlearn.experiment.aggregate import SummaryRow, shot_label
from promptlearn.experiment.runner import dev_score
from promptlearn.tasks.base import metric_label

#: the summary table's columns for one class per example, in order (the last one holds wall-clock seconds)
COLUMNS = [
    "mode", "K", "pattern", "test accuracy", "test macro-F1", "dev accuracy", "top-class share", "runs",
    "trainable params", "s/run",
]  # fmt: skip
#: metrics shown as they are (in the score's squared units), not as a percentage
UNSCALED = {"mse"}


def columns(metric_names: list[str] | None = None) -> list[str]:
    """:data:`COLUMNS`, or for a task shape's own report metrics (``metric_names``: regression's Pearson,
    Spearman, MSE; multi-label's four) one test column per metric, dev of the first, and no top-class share."""
    if not metric_names or list(metric_names) == ["accuracy", "macro_f1"]:
        return COLUMNS
    tests = [f"test {metric_label(name)}" for name in metric_names]
    return ["mode", "K", "pattern", *tests, f"dev {metric_label(metric_names[0])}", "runs", "trainable params", "s/run"]


def row_cells(row: SummaryRow) -> list[str]:
    """One summary row as the text of :func:`columns` of its metrics: fractions in %, mean (std) when several runs."""
    headline = row.metric_names[0]
    dev = "–" if row.dev is None else value(headline, *row.dev, row.runs)
    share = [] if row.top_class_share is None else [f"{row.top_class_share:.2f}" + (" ⚠" if row.collapsed else "")]
    runs = f"{row.runs}" + (f" ({row.failed} failed)" if row.failed else "")
    trainable = "–" if row.trainable_parameters is None else f"{row.trainable_parameters:,}"
    wall = "–" if row.wall_seconds is None else f"{row.wall_seconds:.1f}"
    tests = [value(name, mean, std, row.runs) for name, (mean, std) in row.test.items()]
    return [row.mode, shot_label(row.shots), row.pattern, *tests, dev, *share, runs, trainable, wall]


def metrics_sentence(row: SummaryRow) -> str:
    """What a task's table measures: the majority-class baseline for classes, else the shape's metrics."""
    if row.majority_accuracy is not None:
        return f"always predicting the majority test class scores accuracy {100 * row.majority_accuracy:.1f}."
    names = row.metric_names
    unscaled = [metric_label(name) for name in names if name in UNSCALED]
    units = f"in %{''.join(f'; {label} in the score units squared' for label in unscaled)}"
    return f"metrics: {', '.join(metric_label(name) for name in names)} ({units})."


def value(name: str, mean: float, std: float, runs: int) -> str:
    """A metric's cell: a fraction in %, an :data:`UNSCALED` one with two decimals."""
    if name in UNSCALED:
        return f"{mean:.2f}" if runs == 1 else f"{mean:.2f} ({std:.2f})"
    return pct(mean, std, runs)


def pct(mean: float, std: float, runs: int) -> str:
    return f"{100 * mean:.1f}" if runs == 1 else f"{100 * mean:.1f} ({100 * std:.1f})"


def chosen_settings(searched: list[dict]) -> tuple[list[int], dict[tuple[str, str, str], dict[int, str]]]:
    """The candidate each searched run kept (best on dev): the seeds, and per (mode, K, pattern) the
    kept candidate of each seed as ``key=value, ...``; an Optuna search adds its trial, trials and pruned trials."""
    seeds = sorted({r["seed"] for r in searched})
    rows: dict[tuple[str, str, str], dict[int, str]] = {}
    for record in searched:
        best = kept_candidate(record)
        study = record.get("study")
        drawn = study is not None  # values an Optuna study drew: three significant digits say them
        chosen = ", ".join(f"{k}={v:.3g}" if drawn and isinstance(v, float) else f"{k}={v}"
                           for k, v in best.items() if k != "dev")  # fmt: skip
        if drawn:
            chosen += f" (trial {study['kept']} of {study['trials']}, {study['pruned']} pruned)"
        rows.setdefault((record["mode"], shot_label(record["shots"]), str(record["pattern_id"])), {})[
            record["seed"]
        ] = chosen
    return seeds, rows


def kept_candidate(record: dict) -> dict:
    """The search trial a run kept: the best on dev (``max`` keeps the first of ties, as the search does)."""
    return max(record["search"], key=lambda trial: dev_score(trial["dev"]))
