"""Paired differences of experiments/contrastive-*.yaml to plain pet: per task, the mean over seeds of
(method - pet) test accuracy on the same split, and on how many seeds it went up / down.

    python experiments/contrastive_deltas.py            # after the three fewshot grids have run
    python experiments/contrastive_deltas.py "w = 0.1=/tmp/w01"   # NAME=OUTPUT rows of other grids beside them
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

RUNS = Path("runs")
METHODS = {"pet": "contrastive-pet", "pet + contrastive": "contrastive-supcon", "adapet": "contrastive-adapet"}


def accuracies(folder: str) -> dict[tuple[str, int], float]:
    rows = [
        json.loads(line) for line in (RUNS / folder / "results.jsonl").read_text().splitlines()
    ]  # an absolute folder replaces RUNS
    return {(r["task"], r["seed"]): 100 * r["test"]["accuracy"] for r in rows if r["status"] == "ok"}


def main(extra: list[str]) -> None:
    methods = METHODS | dict(arg.rsplit("=", 1) for arg in extra)
    base = accuracies(METHODS["pet"])
    tasks = sorted({task for task, _ in base})
    print("| method | " + " | ".join(f"{t} | Δ" for t in tasks) + " |")
    print("| --- |" + " --- | --- |" * len(tasks))
    for name, folder in methods.items():
        scores = accuracies(folder)
        cells = []
        for task in tasks:
            seeds = sorted(seed for t, seed in base if t == task and (t, seed) in scores)
            mean = sum(scores[task, s] for s in seeds) / len(seeds)
            deltas = [scores[task, s] - base[task, s] for s in seeds]
            up, down = sum(d > 0 for d in deltas), sum(d < 0 for d in deltas)
            delta = "" if name == "pet" else f"{sum(deltas) / len(deltas):+.1f} ({up} / {down})"
            cells += [f"{mean:.1f}", delta]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
