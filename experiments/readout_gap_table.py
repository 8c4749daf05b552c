"""The readout-gap table of docs/modes.md ("Choosing a readout") from the three readout-gap grids.

Run from the repository root after the `fewshot` commands of experiments/readout-gap-*.yaml (cloze,
cls, warp, and the `head` mode's reference row, readout-gap-head.yaml):

    python experiments/readout_gap_table.py

Per task, mode and readout: test accuracy mean (std) over the seeds, in % (population std, as in
summary.md), and the training loss at the last step (the mean over the last ``eval_every`` steps,
as each run's record.json logs it), mean over the seeds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

READOUTS = ("cloze", "cls", "warp")
GRIDS = (*READOUTS, "head")  # runs/readout-gap-<grid>; `head` is a mode of its own (no prompt, bare text)
TASKS = ("agnews", "sst5", "sst2")  # the YAMLs' order


def records(grid: str) -> list[dict]:
    """The finished runs' record.json files (results.jsonl leaves out the training history)."""
    paths = sorted(Path(f"runs/readout-gap-{grid}/runs").glob("*/record.json"))
    return [r for r in (json.loads(p.read_text()) for p in paths) if r.get("status") == "ok"]


def main() -> None:
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for grid in GRIDS:
        readout = "[CLS], bare text" if grid == "head" else grid
        by_cell: dict[tuple[str, str], list[dict]] = {}
        for record in records(grid):
            by_cell.setdefault((record["task"], record["mode"]), []).append(record)
        for (task, mode), runs in by_cell.items():
            accuracy = 100 * np.array([r["test"]["accuracy"] for r in runs])
            loss = np.mean([r["history"][-1]["loss"] for r in runs])
            cell = f"{accuracy.mean():.1f} ({accuracy.std():.1f}) / {loss:.2f}"
            rows.setdefault((mode, readout), {})[task] = cell + ("" if len(runs) == 5 else f" [{len(runs)} runs]")
    print("| mode | readout | " + " | ".join(TASKS) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in TASKS) + " |")
    for (mode, readout), cells in rows.items():
        print(f"| {mode} | {readout} | " + " | ".join(cells.get(task, "-") for task in TASKS) + " |")


if __name__ == "__main__":
    main()
