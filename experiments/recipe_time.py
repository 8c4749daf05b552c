"""Where a ``train --recipe auto`` run's time went, from its folders: issue 29's time check.

    python experiments/recipe_time.py runs/recipe-ten-classes-s13 runs/recipe-ten-classes-one-pattern-s13 ...

One line per recipe folder: its members, the trainings it ran (every grid value of every member) and how many of
them were values a grid added past its edges, its training seconds (recipe.json), the seconds of the trainings of
the starting grids alone and of the added values (each member's search.json times every trial), and its test
accuracy; and how many members kept a value their grid added (only these would differ without the moves).
A recipe whose grids did not move would have run exactly the starting grids' trainings (each is
deterministic), so their sum is what it would have taken, less the time between trainings.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from recipe_final_table import kept_an_added_value  # the scripts beside this one
from recipe_tables import table


def line(folder: Path) -> list[str]:
    recipe = json.loads((folder / "recipe.json").read_text(encoding="utf-8"))
    members = recipe["members"]
    trainings = sum(len(m["grid"]) for m in members)
    added = sum(len(m["extended"]) for m in members)
    kept_added = sum(map(kept_an_added_value, members))
    starting, moved = 0.0, 0.0
    for member in members:
        search = json.loads((folder / "members" / member["name"] / "search.json").read_text(encoding="utf-8"))
        first = len(search["trials"]) - len(search["extended"])  # the added values train after the starting ones
        starting += sum(trial["seconds"] for trial in search["trials"][:first])
        moved += sum(trial["seconds"] for trial in search["trials"][first:])
    accuracy = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))["test"]["accuracy"]
    counts = [f"{len(members)} ({kept_added} kept an added value)", f"{trainings} ({added} added)"]
    seconds = [f"{recipe['training_seconds']:.0f}", f"{starting:.0f}", f"{moved:.0f}"]
    return [folder.name, *counts, *seconds, f"{100 * accuracy:.1f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="train --recipe auto run folders")
    args = parser.parse_args()
    header = ["run", "members", "trainings", "training s", "starting grids' trainings s", "added values' s",
              "test accuracy"]  # fmt: skip
    print(table(header, [line(folder) for folder in args.folders]))


if __name__ == "__main__":
    main()
