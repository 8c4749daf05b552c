"""Plots (matplotlib, Agg): the headline test metric (accuracy; a task shape's first) against K per mode, and the
spread of runs over seeds.

PNG files for summary.md; SVG for report.html, made deterministic (a fixed hash salt for element ids,
no date) so the same results give the same page.
"""

from __future__ import annotations

import io
from pathlib import Path

from promptlearn.experiment.aggregate import ENSEMBLE, POOLED, SummaryRow, shot_label
from promptlearn.experiment.tables import UNSCALED
from promptlearn.outputs import write_bytes_atomic
from promptlearn.tasks.base import metric_label

#: matplotlib settings for SVG output: stable ids, text kept as text (smaller, selectable)
SVG_SETTINGS = {"svg.hashsalt": "promptlearn", "svg.fonttype": "none"}


def plot_task(rows: list[SummaryRow], task: str, path: Path) -> Path:
    """``plots/<task>.png``: :func:`accuracy_figure` as a PNG."""
    write_bytes_atomic(path, _render(accuracy_figure(rows, task), "png"))
    return path


def accuracy_svg(rows: list[SummaryRow], task: str) -> bytes:
    """:func:`accuracy_figure` as SVG."""
    return _render(accuracy_figure(rows, task), "svg")


def accuracy_figure(rows: list[SummaryRow], task: str):
    """``task``'s headline test metric (accuracy) against K: trained modes as lines, zero-shot as a dashed level,
    majority dotted (where labels are classes).

    Each mode is drawn from its pooled row (``mean``) when it has several patterns, else its one pattern;
    error bars are the std over seeds.
    """
    plt = _pyplot()
    shown = plotted_rows(rows)
    name = rows[0].metric_names[0]
    scale = 1 if name in UNSCALED else 100
    ks = list(dict.fromkeys(shot_label(r.shots) for r in shown if r.shots is not None))
    figure, axes = plt.subplots(figsize=(7.6, 4.2))
    modes = list(dict.fromkeys(r.mode for r in shown))
    for number, mode in enumerate(modes):
        mode_rows = [r for r in shown if r.mode == mode]
        if mode_rows[0].shots is None:  # zero-shot: one level across the plot
            level = mode_rows[0].score[0] * scale
            axes.axhline(level, linestyle="--", linewidth=1.2, color="black", label=f"{mode} ({level:.1f})")
            continue
        shift = 0.04 * (number - len(modes) / 2)  # side by side, so error bars do not hide each other
        x = [ks.index(shot_label(r.shots)) + shift for r in mode_rows]
        y = [scale * r.score[0] for r in mode_rows]
        err = [scale * r.score[1] for r in mode_rows]
        axes.errorbar(x, y, yerr=err, marker="o", capsize=3, label=mode)
    if rows[0].majority_accuracy is not None:
        axes.axhline(100 * rows[0].majority_accuracy, linestyle=":", color="gray", label="majority class")
    axes.set_xticks(range(len(ks)), ks)
    axes.set_xlim(-0.5, max(len(ks) - 0.5, 0.5))
    axes.set_xlabel("K (training examples per label)")
    axes.set_ylabel(_axis_label(name))
    axes.set_title(f"{task}: mean ± std over seeds")
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axes.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def spread_svg(rows: list[SummaryRow], task: str, scores: dict[tuple, list[float]]) -> bytes:
    """Every run's headline test metric (accuracy) as a dot, one line per mode x K (the rows
    :func:`accuracy_figure` draws), a bar at the mean; ``scores`` maps ``(mode, shots, pattern)`` to the runs'
    metric (fractions)."""
    plt = _pyplot()
    shown = plotted_rows(rows)
    name = rows[0].metric_names[0]
    scale = 1 if name in UNSCALED else 100
    figure, axes = plt.subplots(figsize=(7.6, 1.2 + 0.32 * len(shown)))
    for y, row in enumerate(shown):
        values = [scale * v for v in scores.get((row.mode, row.shots, row.pattern), [])]
        axes.plot(values, [y] * len(values), "o", color="tab:blue", alpha=0.6, markersize=5)
        axes.plot([scale * row.score[0]], [y], "|", color="black", markersize=14, markeredgewidth=2)
    shown_values = [scale * v for r in shown for v in scores.get((r.mode, r.shots, r.pattern), [])]
    if rows[0].majority_accuracy is not None:
        majority = 100 * rows[0].majority_accuracy
        axes.axvline(majority, linestyle=":", color="gray", label="majority class")
        shown_values.insert(0, majority)
        axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    # dots at the extremes stay whole
    pad = max(2.0 * scale / 100, 0.06 * (max(shown_values) - min(shown_values)))
    axes.set_xlim(min(shown_values) - pad, max(shown_values) + pad)
    axes.set_yticks(range(len(shown)), [f"{r.mode}, K={shot_label(r.shots)}" for r in shown])
    axes.set_ylim(len(shown) - 0.5, -0.5)  # first row on top, as in the table
    axes.set_xlabel(f"{_axis_label(name)}: one dot per run, bar = mean")
    axes.set_title(f"{task}: spread over seeds (and patterns, where pooled)")
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    return _render(figure, "svg")


def _axis_label(name: str) -> str:
    """``test accuracy (%)``; an unscaled metric without the per cent."""
    return f"test {metric_label(name)}" + ("" if name in UNSCALED else " (%)")


def plotted_rows(rows: list[SummaryRow]) -> list[SummaryRow]:
    """One row per mode x K: the pooled row where there are several patterns, else the one pattern's."""
    chosen: dict[tuple, SummaryRow] = {}
    for row in rows:
        if row.pattern == ENSEMBLE:
            continue
        key = (row.mode, row.shots)
        if key not in chosen or row.pattern == POOLED:
            chosen[key] = row
    return list(chosen.values())


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _render(figure, kind: str) -> bytes:
    """``figure`` as ``png`` (110 dpi) or ``svg`` (:data:`SVG_SETTINGS`, no date), then closed."""
    import matplotlib
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    if kind == "png":
        figure.savefig(buffer, format="png", dpi=110)
    else:
        with matplotlib.rc_context(SVG_SETTINGS):
            figure.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(figure)
    return buffer.getvalue()
