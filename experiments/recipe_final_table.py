"""Issue 29's table: ``train --recipe auto`` against part D's baselines, per task and seed, from the runs.

    python cli.py fewshot --config experiments/recipe-final.yaml --workers 2          # recipe, pet, finetune
    OMP_NUM_THREADS=1 python experiments/contrastive_table.py --tasks sst2,sst5,agnews,rte --rows library-tiny
    python experiments/recipe_final_table.py [--tasks sst2,sst5,agnews,rte,...]      # this table
    python cli.py fewshot --config experiments/recipe-final-many-class.yaml --workers 2
    python experiments/recipe_final_table.py --experiment recipe-final-many-class --tasks 20newsgroups

The first command trains the recipe and the two hand-written baselines (prompt-based and CLS fine-tuning, 30
epochs, learning rate chosen on dev from 1e-5 ... 1e-3) on every task and seed; the second runs the real setfit
library on the very same K-shot splits (contrastive_table.py exports them with promptlearn's sampler, the one
``fewshot`` uses). This script joins them: test accuracy per task (mean and std over the seeds done, n where
fewer than five), the best baseline per task, the recipe's paired difference to it seed by seed, what each run
chose on dev, and the recipe's time. It writes every number the tables use to
``docs/results/<experiment>-table/per_seed.csv`` (beside the fewshot report folder, which only fewshot writes) and
prints the tables as markdown. ``--experiment`` names the fewshot output folder under ``runs/``: recipe-final
(the eight tasks) or recipe-final-many-class (the many-class development tasks).

``runs/`` is a machine's scratch; the committed per_seed.csv is the record. A run (task, method, seed) that is in
that file but not in ``runs/`` here keeps its row, so seeds trained on different machines or days add up to one
table (the script says how many rows it kept); the member tables need the members' folders and cover only the runs
that are here.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

import numpy as np
from recipe_tables import DEV_TASKS, TARGETS, table  # the issue-16 tables' script, beside this one

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "runs" / "contrastive-table" / "runs" / "library-tiny"
SEEDS = (13, 21, 42, 87, 100)
#: row key -> label; the first three are part D's baselines
METHODS = {
    "pet": "prompt-based fine-tuning (`pet`, 30 epochs, lr grid on dev)",
    "finetune": "CLS fine-tuning (`finetune`, 30 epochs, lr grid on dev)",
    "library": "setfit library 1.2.0 (its few-shot defaults)",
    "recipe-auto": "**`train --recipe auto`**",
}
BASELINES = ("pet", "finetune", "library")


def add_experiment_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--experiment", default="recipe-final", help="the fewshot output folder under runs/")


def experiment_runs(experiment: str) -> Path:
    """The fewshot output folder of ``experiment``."""
    return ROOT / "runs" / experiment


def per_seed_csv(experiment: str) -> Path:
    """Where this script writes every run's number of ``experiment`` (read back by recipe_member_rules.py)."""
    return ROOT / "docs" / "results" / f"{experiment}-table" / "per_seed.csv"


def fewshot_rows(runs: Path, tasks: tuple[str, ...]) -> list[dict]:
    """One row per finished fewshot run of the experiment in ``runs``: task, method, seed, test accuracy and choices."""
    rows = []
    path = runs / "results.jsonl"
    if not path.is_file():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record.get("status") != "ok" or record["task"] not in tasks:
            continue
        row = {"task": record["task"], "method": record["mode"], "seed": record["seed"],
               "test_accuracy": record["test"]["accuracy"], "dev_accuracy": record["dev"]["accuracy"],
               "wall_seconds": record["wall_seconds"], "choice": ""}  # fmt: skip
        if record["mode"] == "recipe-auto":
            folder = ROOT / record["recipe"]  # a relative folder is the repository's; an absolute one stays itself
            recipe = json.loads((folder / "recipe.json").read_text(encoding="utf-8"))
            row["choice"] = recipe_choice(recipe)
            row["wall_seconds"] = recipe_seconds(recipe, record["wall_seconds"])
        else:
            config = record["config"]
            steps = config["max_steps"] or math.ceil(record["train_examples"] / config["batch_size"]) * config["epochs"]
            row["choice"] = f"lr {config['learning_rate']:g}, best step {record['best_step']} of {steps}"
        rows.append(row)
    return rows


def recipe_choice(recipe: dict) -> str:
    """The recipe's (its recipe.json) members in one cell: each kept one's learning rate and weight, the left-out
    ones crossed out."""
    parts = []
    for member in recipe["members"]:
        moved = "*" if member["extended"] else ""
        text = f"{member['name']} {member['learning_rate']:g}{moved}"
        weight = f" w{member['weight']:.2f}" if "weight" in member else ""
        parts.append(text + weight if member["kept"] else f"~~{text}~~")
    return ", ".join(parts)


def kept_an_added_value(member: dict) -> bool:
    """Whether a recipe member (an entry of recipe.json's ``members``) kept a learning rate its grid added past an
    edge: only such a member differs from the one a grid that never moved would have trained."""
    return member["learning_rate"] in [added["learning_rate"] for added in member["extended"]]


def grid_counts(runs: Path, tasks: tuple[str, ...]) -> str:
    """Per task, over its recipes' members: how many grids moved past an edge, how many kept a value added by the
    move, and how many members the rule left out."""
    lines = []
    for task in tasks:
        members = []
        for path in sorted((runs / "recipes").glob(f"{task}__recipe-auto__*/recipe.json")):
            members += json.loads(path.read_text(encoding="utf-8"))["members"]
        if not members:
            continue
        moved = [m for m in members if m["extended"]]
        kept_added = [m for m in moved if kept_an_added_value(m)]
        left_out = sum(not m["kept"] for m in members)
        lines.append([task, *map(str, (len(members), len(moved), len(kept_added), left_out))])
    header = ["task", "members (all seeds)", "grid moved", "kept an added value", "left out by the member rule"]
    return table(header, lines)


def member_checkpoints(runs: Path, tasks: tuple[str, ...]) -> str:
    """Per task and member mode, over its recipes' members (each member's metrics.json): where the kept checkpoint
    is, how many are at their last evaluation, and the recipe's trainings (every grid value) with their mean time."""
    lines = []
    for task in tasks:
        best: dict[str, list[int]] = {}
        at_last, trainings, seconds = 0, 0, 0.0
        for path in sorted((runs / "recipes").glob(f"{task}__recipe-auto__*/recipe.json")):
            recipe = json.loads(path.read_text(encoding="utf-8"))
            trainings += sum(len(member["grid"]) for member in recipe["members"])
            seconds += recipe.get("training_seconds") or 0.0
            for member in recipe["members"]:
                metrics = path.parent / "members" / member["name"] / "metrics.json"
                training = json.loads(metrics.read_text(encoding="utf-8"))["training"]
                best.setdefault(member["mode"], []).append(training["best_step"])
                at_last += training["best_step"] == training["steps"]
        if not best:
            continue
        steps = ", ".join(f"{mode} {min(b)} – {max(b)}" for mode, b in best.items())
        per_training = f"{seconds / trainings:.0f}" if seconds else "-"
        lines.append([task, steps, f"{at_last} of {sum(map(len, best.values()))}", str(trainings), per_training])
    header = ["task", "kept checkpoint (step)", "at the last evaluation", "trainings", "s per training"]
    return table(header, lines)


def library_rows(tasks: tuple[str, ...]) -> list[dict]:
    rows = []
    for task in tasks:
        for seed in SEEDS:
            path = LIBRARY / task / str(seed) / "result.json"
            if path.is_file():
                result = json.loads(path.read_text(encoding="utf-8"))
                rows.append({"task": task, "method": "library", "seed": seed, "test_accuracy": result["accuracy"],
                             "dev_accuracy": "", "wall_seconds": result["wall_seconds"], "choice": ""})  # fmt: skip
    return rows


def recorded_rows(out: Path, tasks: tuple[str, ...], found: list[dict]) -> list[dict]:
    """The rows of the per_seed.csv at ``out`` for ``tasks`` whose run is not among ``found`` (the runs here)."""
    if not out.is_file():
        return []
    here = {(r["task"], r["method"], r["seed"]) for r in found}
    with out.open(encoding="utf-8", newline="") as handle:
        rows = [{**r, "seed": int(r["seed"])} for r in csv.DictReader(handle) if r["task"] in tasks]
    return [r for r in rows if (r["task"], r["method"], r["seed"]) not in here]


def recipe_seconds(recipe: dict, wall_seconds: float) -> float | str:
    """A recipe's training time: its members' (its recipe.json), not the fewshot call's, which may have reused
    them; "" when the members were trained before recipe.json recorded it, by a call that also combined them anew."""
    if "training_seconds" in recipe:
        return "" if recipe["training_seconds"] is None else recipe["training_seconds"]
    return wall_seconds if "member_rule" not in recipe else ""  # before the rule's name: the call trained them all


def accuracies(rows: list[dict], task: str, method: str) -> dict[int, float]:
    return {r["seed"]: 100 * float(r["test_accuracy"]) for r in rows if r["task"] == task and r["method"] == method}


def cell(values: dict[int, float]) -> str:
    if not values:
        return "-"
    array = np.array(list(values.values()))
    return f"{array.mean():.1f} ({array.std():.1f})" + ("" if len(array) == len(SEEDS) else f" n={len(array)}")


def main_table(rows: list[dict], tasks: tuple[str, ...]) -> str:
    header = ["method", *tasks, "average of the targets"]
    means = {m: {t: accuracies(rows, t, m) for t in tasks} for m in METHODS}
    complete = [t for t in TARGETS if t in tasks]

    def average(method: str) -> str:
        values = [np.mean(list(means[method][t].values())) for t in complete if len(means[method][t]) == len(SEEDS)]
        return f"{np.mean(values):.2f}" if values and len(values) == len(complete) else "-"

    body = [[label, *(cell(means[m][t]) for t in tasks), average(m)] for m, label in METHODS.items()]
    best, delta = ["best baseline"], ["recipe − best baseline (paired: seeds up / down)"]
    best_means, recipe_means = [], []
    for task in tasks:
        done = {m: means[m][task] for m in BASELINES if means[m][task]}
        recipe = means["recipe-auto"][task]
        if not done or not recipe:
            best.append("-")
            delta.append("-")
            continue
        name = max(done, key=lambda m: np.mean(list(done[m].values())))
        best.append(f"{np.mean(list(done[name].values())):.1f} ({name})")
        seeds = sorted(set(recipe) & set(done[name]))
        diffs = np.array([recipe[s] - done[name][s] for s in seeds])
        delta.append(f"{diffs.mean():+.1f} ({(diffs > 0).sum()} / {(diffs < 0).sum()}, n={len(seeds)})")
        if task in complete and len(seeds) == len(SEEDS):
            best_means.append(np.mean(list(done[name].values())))
            recipe_means.append(np.mean(list(recipe.values())))
    full = bool(complete) and len(best_means) == len(complete)
    best.append(f"{np.mean(best_means):.2f}" if full else "-")
    delta.append(f"{np.mean(recipe_means) - np.mean(best_means):+.2f}" if full else "-")
    return table(header, [*body, best, delta])


def choices_table(rows: list[dict], task: str) -> str:
    header = ["method", *(f"seed {s}" for s in SEEDS)]
    lines = []
    for method in ("pet", "finetune", "recipe-auto"):
        by_seed = {r["seed"]: r for r in rows if r["task"] == task and r["method"] == method}
        if by_seed:
            lines.append([method, *(by_seed[s]["choice"] if s in by_seed else "-" for s in SEEDS)])
    return table(header, lines)


def time_table(rows: list[dict], tasks: tuple[str, ...]) -> str:
    header = ["task", *(f"{m} s/run" for m in METHODS)]
    lines = []
    for task in tasks:
        cells = []
        for method in METHODS:
            seconds = [float(r["wall_seconds"]) for r in rows
                       if r["task"] == task and r["method"] == method and r["wall_seconds"] != ""]  # fmt: skip
            cells.append(f"{np.mean(seconds):.0f} (max {max(seconds):.0f})" if seconds else "-")
        lines.append([task, *cells])
    return table(header, lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default=",".join(TARGETS + DEV_TASKS))
    add_experiment_option(parser)
    args = parser.parse_args()
    tasks = tuple(args.tasks.split(","))
    runs = experiment_runs(args.experiment)
    out = per_seed_csv(args.experiment)
    rows = fewshot_rows(runs, tasks) + library_rows(tasks)
    kept = recorded_rows(out, tasks, rows)
    rows += kept
    if not rows:
        raise SystemExit(f"no finished runs of {', '.join(tasks)} in {runs} or {LIBRARY}: run the commands above first")
    rows.sort(key=lambda r: (tasks.index(r["task"]), list(METHODS).index(r["method"]), r["seed"]))
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    if kept:
        print(f"{len(kept)} of the {len(rows)} rows kept from {out.relative_to(ROOT)} (runs not on this machine)\n")
    print(main_table(rows, tasks))
    print("\nThe recipe's learning-rate grids and member rule, over every member of every seed:\n")
    print(grid_counts(runs, tasks))
    print("\nThe recipe's members: kept checkpoints and trainings, over every seed:\n")
    print(member_checkpoints(runs, tasks))
    print("\nRun time per task (wall seconds per run, mean and max over the seeds):\n")
    print(time_table(rows, tasks))
    for task in tasks:
        print(f"\n**{task}**: what each run chose on dev (recipe: member, kept learning rate, * its grid moved, "
              "w its weight, ~~left out~~ by the member rule)\n")  # fmt: skip
        print(choices_table(rows, task))


if __name__ == "__main__":
    main()
