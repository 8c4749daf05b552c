"""Plots: test accuracy against K, one line per mode, error bars = std over seeds (matplotlib, Agg)."""

from __future__ import annotations

import io
from pathlib import Path

from promptlearn.experiment.aggregate import ENSEMBLE, POOLED, SummaryRow, shot_label
from promptlearn.outputs import write_bytes_atomic


def plot_task(rows: list[SummaryRow], task: str, path: Path) -> Path:
    """One PNG for ``task``: trained modes as lines over K, zero-shot as a dashed level, majority dotted.

    Each mode is drawn from its pooled row (``mean``) when it has several patterns, else its one pattern.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = _one_row_per_mode_and_k(rows)
    ks = list(dict.fromkeys(shot_label(r.shots) for r in shown if r.shots is not None))
    figure, axes = plt.subplots(figsize=(7.6, 4.2))
    modes = list(dict.fromkeys(r.mode for r in shown))
    for number, mode in enumerate(modes):
        mode_rows = [r for r in shown if r.mode == mode]
        if mode_rows[0].shots is None:  # zero-shot: one level across the plot
            level = mode_rows[0].test_accuracy * 100
            axes.axhline(level, linestyle="--", linewidth=1.2, color="black", label=f"{mode} ({level:.1f})")
            continue
        shift = 0.04 * (number - len(modes) / 2)  # side by side, so error bars do not hide each other
        x = [ks.index(shot_label(r.shots)) + shift for r in mode_rows]
        y = [100 * r.test_accuracy for r in mode_rows]
        err = [100 * r.test_accuracy_std for r in mode_rows]
        axes.errorbar(x, y, yerr=err, marker="o", capsize=3, label=mode)
    axes.axhline(100 * rows[0].majority_accuracy, linestyle=":", color="gray", label="majority class")
    axes.set_xticks(range(len(ks)), ks)
    axes.set_xlim(-0.5, max(len(ks) - 0.5, 0.5))
    axes.set_xlabel("K (training examples per label)")
    axes.set_ylabel("test accuracy (%)")
    axes.set_title(f"{task}: mean ± std over seeds")
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axes.grid(alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    write_bytes_atomic(path, buffer.getvalue())
    return path


def _one_row_per_mode_and_k(rows: list[SummaryRow]) -> list[SummaryRow]:
    chosen: dict[tuple, SummaryRow] = {}
    for row in rows:
        if row.pattern == ENSEMBLE:
            continue
        key = (row.mode, row.shots)
        if key not in chosen or row.pattern == POOLED:
            chosen[key] = row
    return list(chosen.values())
