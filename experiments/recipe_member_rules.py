"""Issue 29: which of a recipe's members to average, compared offline on the recipe runs already trained.

    python cli.py fewshot --config experiments/recipe-final.yaml --workers 2   # the recipe runs (members saved)
    python experiments/recipe_member_rules.py                                 # this comparison
    python experiments/recipe_member_rules.py --experiment recipe-final-many-class --tasks 20newsgroups

Every ``train --recipe auto`` folder keeps its members' weights, so a rule for combining them can be tried
without training again: this script loads each member of every finished recipe in ``runs/<experiment>``, reads
its class probabilities on the run's own dev split (sampled from train, as in training) and on the full test set
(cached in ``runs/recipe-member-probs/``), and scores each rule below on both. A rule sees dev only; its test
accuracy is reported next to it, and the choice between rules is made on the development tasks' dev-chosen
results (issue 29's part B; every task that is not a target is one): the target tasks are only listed.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from recipe_final_table import add_experiment_option, experiment_runs, per_seed_csv  # the table's script, beside
from recipe_tables import DEV_TASKS, TARGETS  # the issue-16 tables' script, beside this one

from promptlearn.data.examples import load_task_data
from promptlearn.run.ensemble import accuracy, baseline_accuracy, dev_margins, member_weights, weighted_mean
from promptlearn.run.folder import load_run
from promptlearn.run.pipeline import few_shot_split

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "runs" / "recipe-member-probs"


def member_probabilities(folder: Path) -> dict:
    """Per member of the recipe in ``folder``: its name, mode and (dev, test) probabilities; the gold labels."""
    cache = CACHE / f"{folder.name}.npz"
    recipe = json.loads((folder / "recipe.json").read_text(encoding="utf-8"))
    labels = recipe["labels"]
    names = [member["name"] for member in recipe["members"]]
    if not cache.is_file():
        runs = {name: load_run(folder / "members" / name) for name in names}
        config = runs[names[0]].config  # every member trained on the same data, K-shot split and seed
        data = load_task_data(config.data, config.columns())
        dev, test = few_shot_split(config, data)[1], data.splits["test"]
        arrays = {
            "dev_gold": np.array([labels.index(ex.label) for ex in dev]),
            "test_gold": np.array([labels.index(ex.label) for ex in test]),
        }
        for name, run in runs.items():
            order = [run.pvp.labels.index(label) for label in labels]
            arrays[f"{name}/dev"] = run.predict_proba(dev)[:, order]
            arrays[f"{name}/test"] = run.predict_proba(test)[:, order]
        CACHE.mkdir(parents=True, exist_ok=True)
        np.savez(cache, **arrays)
    arrays = np.load(cache)
    return {
        "members": [
            (name, member["mode"], arrays[f"{name}/dev"], arrays[f"{name}/test"])
            for name, member in zip(names, recipe["members"], strict=True)
        ],
        "dev_gold": arrays["dev_gold"],
        "test_gold": arrays["test_gold"],
    }


def above_guessing(members, gold) -> list[float]:
    """The rule before this comparison: members above guessing, equal weights (all when none is)."""
    kept = [float(margin > 0) for margin in dev_margins([m[2] for m in members], gold)]
    return kept if any(kept) else [1.0] * len(kept)


def near_best(width: float) -> Callable:
    """Members within ``width`` standard errors (of the best member's dev accuracy) of the best, equal weights."""

    def rule(members, gold):
        scores = [accuracy(m[2], gold) for m in members]
        best = max(scores)
        margin = width * np.sqrt(best * (1 - best) / len(gold)) if width else 0.0
        floor = baseline_accuracy(gold, members[0][2].shape[1])
        return [float(s >= best - margin - 1e-12 and (s > floor or best <= floor)) for s in scores]

    return rule


def above_guessing_weighted(power: float) -> Callable:
    """Weights proportional to how far each member's dev accuracy is above guessing, to the power ``power``."""

    def rule(members, gold):
        weights = [margin**power for margin in dev_margins([m[2] for m in members], gold)]
        return weights if any(weights) else [1.0] * len(weights)

    return rule


def library_rule(members, gold) -> list[float]:
    """The rule the recipe now uses (:func:`promptlearn.run.ensemble.member_weights`)."""
    return member_weights([m[2] for m in members], gold)


def only_mode(mode: str) -> Callable:
    def rule(members, gold):
        return [float(m[1] == mode) for m in members]

    return rule


def every_member(members, gold) -> list[float]:
    return [1.0] * len(members)


RULES = {
    "above guessing, equal weights (before)": above_guessing,
    "mean of all": every_member,
    "best member only": near_best(0.0),
    "within 1 SE of best": near_best(1.0),
    "within 2 SE of best": near_best(2.0),
    "weighted by dev margin (chosen: member_weights)": library_rule,
    "weighted by dev margin squared": above_guessing_weighted(2.0),
    "weighted by dev margin to the 4th": above_guessing_weighted(4.0),
    "pet members only": only_mode("pet"),
}


def combined(members, weights, split: int) -> np.ndarray:
    """The members' probabilities on ``split`` (2: dev, 3: test) averaged with ``weights``, as the recipe does."""
    return weighted_mean([m[split] for m in members], weights)


def baselines(experiment: str) -> dict:
    """(task, seed) -> {method: test accuracy} of the final table's baselines (pet, finetune, the setfit library),
    as recipe_final_table.py wrote them for ``experiment``."""
    best: dict = {}
    with per_seed_csv(experiment).open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["method"] in ("pet", "finetune", "library"):
                best.setdefault((row["task"], int(row["seed"])), {})[row["method"]] = float(row["test_accuracy"])
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", default=",".join(DEV_TASKS + TARGETS))
    add_experiment_option(parser)
    args = parser.parse_args()
    tasks = args.tasks.split(",")
    base = baselines(args.experiment)
    # best baseline per task: the method with the highest mean over seeds, compared seed by seed
    results = {rule: {} for rule in RULES}
    singles: dict = {}  # (task, mode) -> each member's own test accuracy, over the seeds
    for folder in sorted((experiment_runs(args.experiment) / "recipes").iterdir()):
        if not (folder / "recipe.json").is_file():
            continue
        task, seed = folder.name.split("__")[0], int(folder.name.rsplit("__s", 1)[1])
        if task not in tasks:
            continue
        data = member_probabilities(folder)
        for _, mode, _, test in data["members"]:
            singles.setdefault((task, mode), []).append(accuracy(test, data["test_gold"]))
        for rule, choose in RULES.items():
            weights = choose(data["members"], data["dev_gold"])
            results[rule].setdefault(task, {})[seed] = (
                accuracy(combined(data["members"], weights, 2), data["dev_gold"]),
                accuracy(combined(data["members"], weights, 3), data["test_gold"]),
            )
    print("| rule | " + " | ".join(tasks) + " | mean Δ dev tasks | mean Δ targets |")
    print("|---|" + "---|" * (len(tasks) + 2))
    for rule, per_task in results.items():
        cells, deltas = [], {}
        for task in tasks:
            seeds = sorted(per_task.get(task, {}))
            if not seeds:
                cells.append("–")
                continue
            methods = base[(task, seeds[0])]
            best_method = max(methods, key=lambda m: np.mean([base[(task, s)][m] for s in seeds]))
            delta = np.mean([per_task[task][s][1] - base[(task, s)][best_method] for s in seeds]) * 100
            deltas[task] = delta
            test = np.mean([per_task[task][s][1] for s in seeds]) * 100
            cells.append(f"{test:.1f} ({delta:+.1f})")
        dev = [deltas[t] for t in tasks if t not in TARGETS and t in deltas]
        targets = [deltas[t] for t in tasks if t in TARGETS and t in deltas]
        means = (f"{np.mean(values):+.2f}" if values else "–" for values in (dev, targets))
        print(f"| {rule} | " + " | ".join(cells) + " | " + " | ".join(means) + " |")

    print("\nEach member alone (test accuracy over its task's seeds, %):\n")
    print("| task | mode | members | mean (min – max) |\n|---|---|---|---|")
    for (task, mode), values in singles.items():
        values = 100 * np.array(values)
        print(f"| {task} | {mode} | {len(values)} | {values.mean():.1f} ({values.min():.1f} – {values.max():.1f}) |")


if __name__ == "__main__":
    main()
