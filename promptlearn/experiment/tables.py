"""The cells of the report's tables, shared by summary.md and report.html so both show the same numbers."""

from __future__ import annotations

from promptlearn.experiment.aggregate import SummaryRow, shot_label
from promptlearn.experiment.runner import dev_score

#: the summary table's columns, in order (the last one holds wall-clock seconds)
COLUMNS = [
    "mode", "K", "pattern", "test accuracy", "test macro-F1", "dev accuracy", "top-class share", "runs",
    "trainable params", "s/run",
]  # fmt: skip


def columns(metric_names: list[str] | None = None) -> list[str]:
    """:data:`COLUMNS`, with a task shape's two report metrics (regression: Pearson, Spearman) in place of
    accuracy and macro-F1 when ``metric_names`` names them."""
    if not metric_names:
        return COLUMNS
    first, second = metric_names
    names = {"test accuracy": f"test {first}", "test macro-F1": f"test {second}", "dev accuracy": f"dev {first}"}
    return [names.get(column, column) for column in COLUMNS]


def row_cells(row: SummaryRow) -> list[str]:
    """One summary row as the text of :data:`COLUMNS`: metrics in %, mean (std) when several runs."""
    dev = "–" if row.dev_accuracy is None else pct(row.dev_accuracy, row.dev_accuracy_std, row.runs)
    share = f"{row.top_class_share:.2f}" + (" ⚠" if row.collapsed else "")
    runs = f"{row.runs}" + (f" ({row.failed} failed)" if row.failed else "")
    trainable = "–" if row.trainable_parameters is None else f"{row.trainable_parameters:,}"
    wall = "–" if row.wall_seconds is None else f"{row.wall_seconds:.1f}"
    return [
        row.mode, shot_label(row.shots), row.pattern, pct(row.test_accuracy, row.test_accuracy_std, row.runs),
        pct(row.test_macro_f1, row.test_macro_f1_std, row.runs), dev, share, runs, trainable, wall,
    ]  # fmt: skip


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
