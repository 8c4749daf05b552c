"""What a recipe's grid moves are worth: the same recipe with grids that do not move, trained only where it differs.

    python experiments/recipe_fixed_grid.py --moved runs/recipe-ten-classes-s13 --fixed runs/recipe-fixed-s13 \
        -- --model ../shared/models/bert-tiny --data ... --seed 13 --recipe auto ...   # the moved run's train flags

``train --recipe auto`` moves a member's learning-rate grid past an edge its best sits at (issue 29). Without the
moves, a member whose kept value is one of its starting values is the very same run (every training is
deterministic), so only the members that kept an added value differ. This script copies the ``--moved`` recipe
folder to ``--fixed``, removes those members and the combined files, and runs the same ``train`` command on it
with the moves switched off (``EXTEND = 0``): the recipe resumes, training the removed members on their starting
grids only, and combines the members anew (weights on dev, then the test set), as a recipe that never moved
would have. It prints both recipes' dev and test accuracy and the members that changed.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from recipe_final_table import kept_an_added_value  # the table's script, beside this one

import promptlearn.run.recipe as recipe_module
from promptlearn.cli import app


def added_kept(folder: Path) -> list[str]:
    """The members of the recipe in ``folder`` whose kept learning rate is one their grid added."""
    recipe = json.loads((folder / recipe_module.RECIPE_FILE).read_text(encoding="utf-8"))
    return [member["name"] for member in recipe["members"] if kept_an_added_value(member)]


def accuracies(folder: Path) -> str:
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    return f"dev {100 * metrics['dev']['accuracy']:.1f}, test {100 * metrics['test']['accuracy']:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moved", type=Path, required=True, help="a finished train --recipe auto folder")
    parser.add_argument("--fixed", type=Path, required=True, help="where the fixed-grid recipe goes (new)")
    parser.add_argument("train", nargs=argparse.REMAINDER, help="-- then the moved run's train flags, no --output")
    args = parser.parse_args()
    flags = [flag for flag in args.train if flag != "--"]
    changed = added_kept(args.moved)
    if not args.fixed.exists():
        shutil.copytree(args.moved, args.fixed)
        for name in changed:
            shutil.rmtree(args.fixed / recipe_module.MEMBERS / name)
        for name in (recipe_module.RECIPE_FILE, "metrics.json", "predictions.jsonl"):
            (args.fixed / name).unlink(missing_ok=True)
    recipe_module.EXTEND = 0  # read by each member's training: no value past the starting grid's edges
    app(["train", *flags, "--output", str(args.fixed)], standalone_mode=False)
    print(f"{args.moved.name}: moved grids {accuracies(args.moved)}; fixed grids {accuracies(args.fixed)}; "
          f"members retrained: {', '.join(changed) or 'none'}")  # fmt: skip


if __name__ == "__main__":
    main()
