"""docs/pet.md's table, read from `fewshot --config experiments/pet-table.yaml`'s outputs (no number typed by hand).

    python experiments/pet_table.py [--runs runs/pet-table]

Test accuracy mean (std) over seeds from docs/results/pet/summary.csv; the pool columns (how often the
ensemble's labels on the unlabelled pool are right, against the pool's hidden gold labels) from each
pipeline's summary.json under the run folder.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = [("pet", "mean"), ("pet-ensemble", "0"), ("pet-distill", "0"), ("ipet", "0")]


def pool_accuracy(runs: Path, task: str, component: str) -> str:
    """Mean (std) over seeds of the ensemble's pool accuracy in the iPET pipelines (their generation 0 is PET's)."""
    values = []
    for summary in sorted((runs / "pet").glob(f"{task}__g2__k16__s*/summary.json")):
        rows = {row["component"]: row for row in json.loads(summary.read_text(encoding="utf-8"))["rows"]}
        values.append(100 * rows[component]["pool"]["accuracy"])
    return f"{np.mean(values):.1f} ({np.std(values):.1f})" if values else "–"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", default=str(ROOT / "runs" / "pet-table"))
    runs = Path(parser.parse_args().runs)
    with open(ROOT / "docs" / "results" / "pet" / "summary.csv", encoding="utf-8") as file:
        summary = {(r["task"], r["mode"], r["pattern"]): r for r in csv.DictReader(file)}
    tasks = list(dict.fromkeys(task for task, _, _ in summary))
    print("| task | `pet`, single models (all patterns) | PET ensemble (wmean) | distilled | iPET (2 generations) "
          "| ensemble's pool labels right: generation 0 / 2 |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- |")
    for task in tasks:
        cells = []
        for mode, pattern in COLUMNS:
            row = summary.get((task, mode, pattern))
            mean, std = (100 * float(row[key]) for key in ("test_accuracy", "test_accuracy_std")) if row else (0, 0)
            cells.append(f"{mean:.1f} ({std:.1f})" if row else "–")
        pools = (
            f"{pool_accuracy(runs, task, 'g0/ensemble (wmean)')} / {pool_accuracy(runs, task, 'g2/ensemble (wmean)')}"
        )
        print(f"| {task} | " + " | ".join(cells) + f" | {pools} |")


if __name__ == "__main__":
    main()
