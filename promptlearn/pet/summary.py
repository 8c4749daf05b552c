"""The pipeline's summary: every member's, every generation's ensemble and the final model's dev/test metrics."""

from __future__ import annotations

import json

import numpy as np

from promptlearn.outputs import write_json_atomic, write_text_atomic
from promptlearn.pet.distill import FINAL
from promptlearn.pet.state import PetState


def _metrics(state: PetState, probabilities: np.ndarray, gold: list, decision: dict | None) -> dict | None:
    """The task shape's metrics (single-label: accuracy and macro-F1) of an ensemble's probabilities against gold
    labels, at the ensemble's ``decision`` (multi-label: its threshold chosen on dev); None without (complete) gold."""
    if not gold or any(g is None for g in gold):
        return None
    index = {label: i for i, label in enumerate(state.labels)}
    shape = state.shape
    return shape.metrics([shape.target(g, index) for g in gold], probabilities, len(state.labels), decision)


def _run_metrics(run_dir) -> dict | None:
    path = run_dir / "metrics.json"
    if not path.is_file():
        return None
    stored = json.loads(path.read_text(encoding="utf-8"))
    return {
        "dev": stored.get("dev"),
        "test": stored.get("test"),
        "train_examples": stored["training"]["train_examples"],
        "wall_seconds": stored["training"]["wall_seconds"],
    }


def summarize(state: PetState, wall_seconds: float) -> dict:
    """Rows for members (trained ones), one ensemble row per generation, and the final model."""
    root = state.root
    gold = {
        "dev": [ex.label for ex in state.dev],
        "test": [ex.label for ex in state.test],
        "pool": list(state.pool_gold),
    }
    rows = []
    for generation, members in enumerate(state.generations):
        for member in members:
            if member.repetition is not None:
                rows.append({"component": f"g{generation}/{member.name}", **(_run_metrics(member.run_dir(root)) or {})})
        decision = state.decision(members)
        ensemble = {
            split: _metrics(state, state.probabilities(members, split), gold[split], decision) for split in gold
        }
        rows.append({"component": f"g{generation}/ensemble ({state.config.reduction})", **ensemble})
    final = _run_metrics(root / FINAL)
    rows.append({"component": FINAL, **(final or {"note": "not trained (see the log)"})})
    return {"rows": rows, "wall_seconds": round(wall_seconds, 2), "config": state.config.to_dict()}


def _cell(metrics: dict | None, names: tuple[str, str]) -> str:
    return "–" if not metrics else f"{100 * metrics[names[0]]:.1f} / {100 * metrics[names[1]]:.1f}"


#: what a summary names each metric (the shape's :attr:`~promptlearn.tasks.base.TaskShape.report_metrics`)
TITLES = {
    "accuracy": "Accuracy",
    "macro_f1": "macro-F1",
    "micro_f1": "Micro-F1",
    "pearson": "Pearson",
    "spearman": "Spearman",
}


def write_summary(state: PetState, wall_seconds: float) -> dict:
    """``summary.json`` and ``summary.md`` in the pipeline's folder; returns the summary."""
    summary = summarize(state, wall_seconds)
    shape = state.shape
    names = shape.report_metrics or (shape.selection_metric, "macro_f1")
    lines = [
        "# PET pipeline",
        "",
        f"{TITLES[names[0]]} / {TITLES[names[1]]} (%). `pool`: the ensemble's labels against the pool's hidden gold "
        "labels (only when the pool came from a labelled train split); members and the final model have none.",
        "",
        "| component | dev | test | pool | train examples | seconds |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for row in summary["rows"]:
        cells = [_cell(row.get(split), names) for split in ("dev", "test", "pool")]
        extra = [str(row.get("train_examples", "–")), str(row.get("wall_seconds", "–"))]
        name = row["component"] + (f" ({row['note']})" if "note" in row else "")
        lines.append(f"| {name} | " + " | ".join(cells + extra) + " |")
    lines += ["", f"Wall time of this invocation: {summary['wall_seconds']} s."]
    write_json_atomic(state.root / "summary.json", summary)
    write_text_atomic(state.root / "summary.md", "\n".join(lines) + "\n")
    return summary
