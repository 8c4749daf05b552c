"""The measurements of docs/multitask.md, one command per table (bert-tiny, K=16, seeds 13/21/42/87/100).

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python3 scripts/multitask_tables.py multitask  # single vs multi-task
    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python3 scripts/multitask_tables.py forgetting # 4-task sequence

A second argument keeps the first N seeds (`forgetting 3`: seeds 13/21/42), for a table that must fit in less
time; the doc says which seeds each table used.

Every run's metrics go to runs/multitask-tables/<table>/ (resumable: a finished run is read back), and the
table is printed as markdown: mean (std) of test accuracy over the seeds, full test sets. The transfer table is
`promptlearn fewshot`'s own study: `python3 cli.py fewshot --config experiments/bert-tiny-transfer.yaml`.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from promptlearn.multitask import pipeline as multitask
from promptlearn.multitask.config import MultiTaskOptions, task_configs, task_specs
from promptlearn.run.config import RunConfig
from promptlearn.run.pipeline import train

MODEL = "../shared/models/bert-tiny"
ROOT = "../shared/data"
SEEDS = (13, 21, 42, 87, 100)
TASKS = "sst2,subj,cr,rte"
STEPS = 100  # per task: a multi-task run of n tasks takes n * STEPS steps
OUT = Path("runs/multitask-tables")


def base(mode: str, seed: int, steps: int, **options) -> dict:
    return {"model": MODEL, "mode": mode, "shots": 16, "seed": seed, "max_steps": steps, "eval_every": 25} | options


def cached(path: Path, compute) -> dict:
    if path.is_file():
        return json.loads(path.read_text())
    result = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1))
    return result


def single(task: str, mode: str, seed: int, mode_options: dict | None = None, tag: str = "") -> dict:
    (spec,) = [s for s in task_specs(MultiTaskOptions(tasks=TASKS, data_root=ROOT)) if s.name == task]
    config = RunConfig(
        **base(mode, seed, STEPS), mode_options=mode_options or {}, data=spec.data, pattern=spec.pattern,
        verbalizer=spec.verbalizer, task=task,
    )  # fmt: skip
    folder = OUT / "runs" / f"{mode}{tag}-{task}-{seed}"
    if not (folder / "metrics.json").is_file():
        train(config.anchored(), folder, overwrite=True)
    return json.loads((folder / "metrics.json").read_text())


def mixed(mode: str, seed: int, share: str, sampling: str = "proportional", **extra) -> dict:
    options = MultiTaskOptions(tasks=TASKS, data_root=ROOT, share=share, sampling=sampling, **extra)
    configs = task_configs(base(mode, seed, STEPS * len(TASKS.split(","))), task_specs(options))
    return multitask.train(configs, options)


def fmt(values: list[float]) -> str:
    return f"{100 * statistics.mean(values):.1f} ({100 * statistics.stdev(values):.1f})"


def table_multitask() -> None:
    tasks = TASKS.split(",")
    rows = {}
    for mode in ("pet", "lora"):
        rows[f"{mode}, one run per task"] = {t: [single(t, mode, s)["test"]["accuracy"] for s in SEEDS] for t in tasks}
        for share in ("task", "all") if mode == "lora" else ("task",):
            runs = [
                cached(OUT / "multitask" / f"{mode}-{share}-{s}.json", lambda s=s, m=mode, h=share: mixed(m, s, h))
                for s in SEEDS
            ]
            rows[f"{mode}, multi-task (share={share})"] = {
                t: [r["tasks"][t]["test"]["accuracy"] for r in runs] for t in tasks
            }
    print("| setting | " + " | ".join(tasks) + " | mean |\n|---|" + "---|" * (len(tasks) + 1))
    for name, by_task in rows.items():
        means = [statistics.mean(by_task[t][i] for t in tasks) for i in range(len(SEEDS))]
        print(f"| {name} | " + " | ".join(fmt(by_task[t]) for t in tasks) + f" | {fmt(means)} |")


def table_forgetting() -> None:
    tasks = TASKS.split(",")
    settings = {
        "pet, shared, no rehearsal": ("pet", "task", 0),
        "pet, shared, rehearsal 8/task": ("pet", "task", 8),
        "lora, per task": ("lora", "task", 0),
    }
    print("| setting | " + " | ".join(f"forgetting {t}" for t in tasks[:-1]) + " | mean forgetting | "
          "mean forward transfer | final mean acc |\n|---|" + "---|" * (len(tasks) + 2))  # fmt: skip
    for name, (mode, share, rehearsal) in settings.items():
        runs = []
        for s in SEEDS:
            options = MultiTaskOptions(tasks=TASKS, data_root=ROOT, share=share, sequential=True, rehearsal=rehearsal)
            path = OUT / "forgetting" / f"{mode}-{rehearsal}-{s}.json"
            configs = task_configs(base(mode, s, STEPS), task_specs(options))
            runs.append(cached(path, lambda c=configs, o=options: multitask.train(c, o))["sequence"]["test"])
        cells = [fmt([r["forgetting"][t] for r in runs]) for t in tasks[:-1]]
        cells += [
            fmt([r[k] for r in runs]) for k in ("mean_forgetting", "mean_forward_transfer", "final_mean_accuracy")
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    SEEDS = SEEDS[: int(sys.argv[2])] if len(sys.argv) > 2 else SEEDS
    {"multitask": table_multitask, "forgetting": table_forgetting}[sys.argv[1]]()
