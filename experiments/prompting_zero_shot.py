"""Zero-shot test accuracy: manual vs searched label words, each uncalibrated and calibrated (docs/prompting.md).

Run from the repository root (about 15 minutes on one CPU thread):

    PYTHONPATH=. OMP_NUM_THREADS=1 python experiments/prompting_zero_shot.py \
        --output docs/results/prompting/zero_shot.json

Per task: the preset's first pattern; manual words = the preset verbalizer; searched words =
``promptlearn search-verbalizer`` on each seed's K=16 split (dev = K per label sampled from the rest
of train, LM-BFF's protocol), seeds 13, 21, 42, 87, 100. ``unlabeled`` calibration reads the seed's
K-shot train texts (without labels). Every number is on the full test set.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from promptlearn import api
from promptlearn.data.examples import load_task_data
from promptlearn.data.sampling import few_shot
from promptlearn.prompt.presets import task_pattern, task_verbalizer
from promptlearn.run import calibration
from promptlearn.run.config import RunConfig
from promptlearn.training.metrics import classification_metrics

TASKS = ("sst2", "sst5", "agnews", "mr", "cr", "subj", "rte")
SEEDS = (13, 21, 42, 87, 100)
METHODS = ("none", "content-free", "unlabeled")


def accuracies(run: api.Prompted, test, splits) -> dict[str, list[float]]:
    """Accuracy per calibration method; 'unlabeled' once per seed's train texts."""
    raw = run.trainer.predict_proba(run.pvp.encode(test))
    index = {label: i for i, label in enumerate(run.pvp.labels)}
    gold = np.array([index[ex.label] for ex in test])
    pair = "text_b" in run.pvp.pattern.fields
    out = {}
    for method in METHODS:
        scores = []
        for train, _ in splits if method == "unlabeled" else splits[:1]:
            run.calibration = None
            bias = calibration.estimate(method, run.predict_proba, train, run.pvp.tokenizer.mask_token, pair)
            probs = calibration.apply(raw, bias)
            scores.append(classification_metrics(gold, probs.argmax(axis=1), len(index))["accuracy"])
        out[method] = scores
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="../shared/models/bert-tiny")
    parser.add_argument("--data-root", default="../shared/data")
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--shots", type=int, default=16)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    results = json.loads(args.output.read_text()) if args.output.is_file() else {}
    for task in args.tasks.split(","):
        if task in results:
            continue
        started = time.perf_counter()
        data = load_task_data(str(Path(args.data_root) / task))
        test = data.split("test")
        config = RunConfig(
            model=args.model, data=str(Path(args.data_root) / task), pattern=task_pattern(task).pattern,
            verbalizer=task_verbalizer(task).to_dict(), task=task, eval_batch_size=128,
        )  # fmt: skip
        splits = [few_shot(data, args.shots, seed, "sampled") for seed in SEEDS]
        manual = api.build(config, data)
        entry = {"pattern": config.pattern, "manual_words": config.verbalizer}
        entry["manual"] = accuracies(manual, test, splits)
        entry["searched"], entry["searched_words"] = {m: [] for m in METHODS}, []
        for seed, (train, dev) in zip(SEEDS, splits, strict=True):
            search = config.replace(seed=seed, shots=args.shots, verbalizer_search={})
            found = api.search_label_words(search, data, train, dev, manual.model.backbone)
            words = found.verbalizer.to_dict()
            run = api.build(config.replace(verbalizer=words, labels=found.verbalizer.labels), data)
            for method, scores in accuracies(run, test, [(train, dev)]).items():
                entry["searched"][method] += scores
            entry["searched_words"].append({"seed": seed, "words": words, "dev_accuracy": found.dev_accuracy})
        entry["wall_seconds"] = round(time.perf_counter() - started, 1)
        results[task] = entry
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=2) + "\n")
        print(task, json.dumps({k: v for k, v in entry.items() if k in ("manual", "searched")}), flush=True)
    print(table(results))


def _cell(scores: list[float]) -> str:
    if len(scores) == 1:
        return f"{100 * scores[0]:.1f}"
    return f"{100 * np.mean(scores):.1f} ({100 * np.std(scores):.1f})"


def table(results: dict) -> str:
    head = "| task | manual | manual + content-free | manual + unlabeled | searched | searched + content-free | "
    head += "searched + unlabeled |\n| --- | --- | --- | --- | --- | --- | --- |\n"
    rows = []
    for task, entry in results.items():
        cells = [_cell(entry[kind][m]) for kind in ("manual", "searched") for m in METHODS]
        rows.append(f"| {task} | " + " | ".join(cells) + " |")
    return head + "\n".join(rows)


if __name__ == "__main__":
    main()
