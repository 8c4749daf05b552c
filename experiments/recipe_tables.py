"""The tables of docs/results/recipe.md, read from the fewshot summaries (so no number is typed by hand).

    python experiments/recipe_tables.py

prints (1) the recipe against issue 16's peers on the four target tasks, from
docs/results/recipe/summary.csv, (2) the learning rate each of its runs chose on dev, per task and
seed (the "Chosen on dev" tables of docs/results/recipe/summary.md), and (3) the comparison on the
development tasks the recipe was fixed on, from docs/results/recipe-dev-tasks{,-mean,-calibrated}/summary.csv.
"""

from __future__ import annotations

import csv
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "docs" / "results"
TARGETS = ["sst2", "sst5", "agnews", "rte"]
DEV_TASKS = ["mr", "cr", "subj", "mpqa"]
#: issue 16's peer runs on bert-tiny (same protocol, their own splits), test accuracy mean (std) %
PEERS = {
    "fine-tuning, CLS head (plain PyTorch)": ["51.6 (2.5)", "25.9 (2.1)", "74.2 (2.3)", "52.0 (1.0)"],
    "prompt-based fine-tuning (plain PyTorch)": ["58.6 (3.7)", "26.8 (1.7)", "74.2 (1.5)", "51.6 (3.0)"],
    "OpenPrompt 1.0.1 prompt-based fine-tuning": ["60.5 (4.2)", "–", "–", "49.7 (1.5)"],
    "PEFT prompt tuning / P-tuning / prefix tuning / LoRA": [
        "54.6 / 53.2 / 54.1 / 51.7", "24.1 / 24.5 / 24.2 / 21.9",
        "70.0 / 73.9 / 69.0 / 69.4", "49.0 / 48.2 / 51.3 / 51.8",
    ],
}  # fmt: skip
BEST_PEER = [60.5, 26.8, 74.2, 52.0]
#: (row label, mode, pattern) of the summaries
ROWS = [
    ("`pet`, first pattern", "pet", "0"),
    ("`pet`, its patterns' ensemble", "pet", "ensemble"),
    ("`mlm_head`, its patterns' ensemble", "mlm_head", "ensemble"),
    ("`head` (linear, frozen [CLS])", "head", "0"),
]


def read(folder: str) -> dict[tuple[str, str, str], tuple[float, float]]:
    with open(RESULTS / folder / "summary.csv", encoding="utf-8") as file:
        return {
            (r["task"], r["mode"], r["pattern"]): (100 * float(r["test_accuracy"]), 100 * float(r["test_accuracy_std"]))
            for r in csv.DictReader(file)
        }


def cells(summary: dict, mode: str, pattern: str, tasks: list[str]) -> tuple[list[str], float]:
    values = [summary[(task, mode, pattern)] for task in tasks]
    return [f"{m:.1f} ({s:.1f})" for m, s in values], sum(m for m, _ in values) / len(values)


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def chosen_settings() -> str:
    """The "Chosen on dev" table of each task of the recipe's summary.md, under the task's name."""
    sections = (RESULTS / "recipe" / "summary.md").read_text(encoding="utf-8").split("\n## ")[1:]
    blocks = []
    for section in sections:
        task, _, body = section.partition("\n")
        chosen = body.partition("Chosen on dev")[2].strip().split("\n", 2)[2]  # the table under the heading
        blocks.append(f"**{task}**\n\n" + chosen.strip().replace("learning_rate=", ""))
    return "\n\n".join(blocks)


def main() -> None:
    recipe = read("recipe")
    rows = [[name, *values, "–"] for name, values in PEERS.items()]
    rows.append(["**best peer**", *[f"**{v}**" for v in BEST_PEER], f"**{sum(BEST_PEER) / 4:.2f}**"])
    for label, mode, pattern in [*ROWS, ("**recipe** (mean of all of the above's runs)", "recipe", "ensemble")]:
        values, average = cells(recipe, mode, pattern, TARGETS)
        rows.append([label, *values, f"{average:.2f}"])
    values = [recipe[(task, "recipe", "ensemble")][0] for task in TARGETS]
    gains = [v - p for v, p in zip(values, BEST_PEER, strict=True)]
    rows.append(["recipe − best peer", *[f"{g:+.1f}" for g in gains], f"{sum(gains) / 4:+.2f}"])
    print(table(["method", *TARGETS, "average"], rows), end="\n\n")
    print(chosen_settings(), end="\n\n")

    rows = []
    for variant, folder in [("as the recipe", "recipe-dev-tasks"), ("hyperparameter mean", "recipe-dev-tasks-mean"),
                            ("unlabeled calibration", "recipe-dev-tasks-calibrated")]:  # fmt: skip
        summary = read(folder)
        members = [*ROWS, ("`lora`, its patterns' ensemble", "lora", "ensemble"),
                   ("`pet` + `mlm_head`", "cloze", "ensemble"),
                   ("**`pet` + `mlm_head` + `head`**", "cloze-and-head", "ensemble"),
                   ("all four", "all", "ensemble")]  # fmt: skip
        for label, mode, pattern in members:
            if (DEV_TASKS[0], mode, pattern) in summary:
                values, average = cells(summary, mode, pattern, DEV_TASKS)
                rows.append([variant, label, *values, f"{average:.2f}"])
    print(table(["variant", "method", *DEV_TASKS, "average"], rows))


if __name__ == "__main__":
    main()
