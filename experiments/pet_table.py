"""docs/pet.md's table, read from the `fewshot` outputs (no number typed by hand).

    python experiments/pet_table.py [--runs runs/pet-table-ipet]

Test accuracy mean (std) over seeds from docs/results/pet/summary.csv (`fewshot --config
experiments/pet-table.yaml`: single `pet`, PET's ensemble, the distilled classifier, and iPET as it
was before issue 20 fixed its weights) and docs/results/pet-ipet/summary.csv (`fewshot --config
experiments/pet-table-ipet.yaml`: iPET re-run with PET's weights). The other columns come from each
re-run iPET pipeline's summary.json under --runs: its generation-0 ensemble's test accuracy (PET's
ensemble again, on the re-run's code) and how often the ensemble's labels on the unlabelled pool
are right (against the pool's hidden gold labels) in generations 0 and 2.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"
#: (summary, mode, pattern row) per column
COLUMNS = [("pet", "pet", "mean"), ("pet", "pet-ensemble", "0"), ("pet", "pet-distill", "0"),
           ("pet", "ipet", "0"), ("pet-ipet", "ipet", "0")]  # fmt: skip


def mean_std(values: list[float]) -> str:
    return f"{np.mean(values):.1f} ({np.std(values):.1f})" if values else "–"


def pipeline_values(runs: Path, task: str, component: str, split: str) -> list[float]:
    """``component``'s accuracy on ``split`` (test or pool), in % per seed, from the iPET pipelines of ``task``."""
    values = []
    for summary in sorted((runs / "pet").glob(f"{task}__g2__k16__s*/summary.json")):
        rows = {row["component"]: row for row in json.loads(summary.read_text(encoding="utf-8"))["rows"]}
        values.append(100 * rows[component][split]["accuracy"])
    return values


def read_summary(name: str) -> dict:
    with open(RESULTS / name / "summary.csv", encoding="utf-8") as file:
        return {(r["task"], r["mode"], r["pattern"]): r for r in csv.DictReader(file)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", default=str(ROOT / "runs" / "pet-table-ipet"))
    runs = Path(parser.parse_args().runs)
    summaries = {name: read_summary(name) for name in ("pet", "pet-ipet")}
    tasks = list(dict.fromkeys(task for task, _, _ in summaries["pet"]))
    print("| task | `pet`, single models (all patterns) | PET ensemble (wmean) | distilled | iPET, weights before "
          "issue 20 | iPET (2 generations), PET's weights | generation-0 ensemble of the iPET re-run "
          "| ensemble's pool labels right: generation 0 / 2 |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for task in tasks:
        cells = []
        for summary, mode, pattern in COLUMNS:
            row = summaries[summary].get((task, mode, pattern))
            mean, std = (100 * float(row[key]) for key in ("test_accuracy", "test_accuracy_std")) if row else (0, 0)
            cells.append(f"{mean:.1f} ({std:.1f})" if row else "–")
        cells.append(mean_std(pipeline_values(runs, task, "g0/ensemble (wmean)", "test")))
        pools = [mean_std(pipeline_values(runs, task, f"g{g}/ensemble (wmean)", "pool")) for g in (0, 2)]
        print(f"| {task} | " + " | ".join(cells) + f" | {pools[0]} / {pools[1]} |")


if __name__ == "__main__":
    main()
