"""The stsb and copa tables of docs/tasks.md from the grids' records (after experiments/shapes-{stsb,copa}.yaml, and
experiments/shapes-stsb-mse-head.yaml for the MSE head's rows):

    PYTHONPATH=$PWD python3 experiments/shape_tables.py

Mean (population std over the five seeds) of every test metric per mode, in the grids' own units: Pearson,
Spearman and accuracy in %, MSE as it is. Zero-shot is pattern 0 (one run).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def table(grid: str, metrics: list[str]) -> list[str]:
    records = [
        json.loads(line) for line in (ROOT / "runs" / f"shapes-{grid}" / "results.jsonl").read_text().splitlines()
    ]
    rows = [f"| mode | runs | {' | '.join(metrics)} |", "|---|---|" + "---|" * len(metrics)]
    for mode in dict.fromkeys(r["mode"] for r in records):
        runs = [r for r in records if r["mode"] == mode and r["status"] == "ok" and str(r["pattern_id"]) == "0"]
        cells = []
        for name in metrics:
            values = np.array([r["test"][name] for r in runs]) * (1 if name == "mse" else 100)
            spread = f" ({values.std():.2f})" if len(values) > 1 else ""
            cells.append(f"{values.mean():.{2 if name == 'mse' else 1}f}{spread}")
        rows.append(f"| {mode} | {len(runs)} | {' | '.join(cells)} |")
    return rows


if __name__ == "__main__":
    stsb = ["pearson", "spearman", "mse"]
    tables = [table("stsb", stsb), table("stsb-mse-head", stsb), table("copa", ["accuracy", "macro_f1"])]
    print("\n\n".join("\n".join(rows) for rows in tables))
