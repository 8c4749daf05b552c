"""Where a ``train --recipe auto`` run's time went, from its folders: issue 29's time check.

    python experiments/recipe_time.py runs/recipe-ten-classes runs/recipe-ten-classes-one-pattern ...

One line per recipe folder: its members, the trainings it ran (every grid value of every member) and how many of
them were values a grid added past its edges, its training seconds (recipe.json), the seconds of the starting
grids alone estimated from each member's kept training (its metrics.json: every value of a member's grid trains
the same steps), and its test accuracy.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from recipe_tables import table  # the issue-16 tables' script, beside this one


def line(folder: Path) -> list[str]:
    recipe = json.loads((folder / "recipe.json").read_text(encoding="utf-8"))
    members = recipe["members"]
    trainings = sum(len(m["grid"]) for m in members)
    added = sum(len(m["extended"]) for m in members)
    starting = 0.0
    for member in members:
        metrics = json.loads((folder / "members" / member["name"] / "metrics.json").read_text(encoding="utf-8"))
        starting += (len(member["grid"]) - len(member["extended"])) * metrics["training"]["wall_seconds"]
    accuracy = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))["test"]["accuracy"]
    return [folder.name, str(len(members)), f"{trainings} ({added} added)", f"{recipe['training_seconds']:.0f}",
            f"{starting:.0f}", f"{100 * accuracy:.1f}"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path, help="train --recipe auto run folders")
    args = parser.parse_args()
    header = ["run", "members", "trainings", "training s", "starting grids s (estimate)", "test accuracy"]
    print(table(header, [line(folder) for folder in args.folders]))


if __name__ == "__main__":
    main()
