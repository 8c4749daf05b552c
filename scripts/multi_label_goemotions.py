"""The multi-label table of docs/tasks.md: GoEmotions, K = 16 (at least 16 train examples of every label, the
greedy sampling of promptlearn.tasks.multi_label; dev drawn the same way from the rest of train), five seeds.

Rows: zero-shot (the untrained cloze, its threshold chosen on the same K-shot dev), pet, mlm_head, head,
finetune, and one-vs-rest logistic regression on TF-IDF (scikit-learn; threshold chosen on dev the same way).
Every row is scored on the same test examples with the same metrics (promptlearn.tasks.multi_label).

    PYTHONPATH=. OMP_NUM_THREADS=1 python3 scripts/multi_label_goemotions.py            # full test set
    PYTHONPATH=. OMP_NUM_THREADS=1 python3 scripts/multi_label_goemotions.py --test 1000

Writes docs/results/multi-label-goemotions.json (every run) and prints the markdown table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from promptlearn import api
from promptlearn.data.examples import load_task_data
from promptlearn.prompt.presets import resolve_prompt
from promptlearn.run.config import RunConfig
from promptlearn.tasks.multi_label import MULTI_LABEL, multi_label_metrics

REPO = Path(__file__).resolve().parent.parent
SEEDS = (13, 21, 42, 87, 100)
MODES = ("zero-shot", "pet", "mlm_head", "head", "finetune", "tfidf-logreg")
METRICS = ("micro_f1", "macro_f1", "samples_f1", "subset_accuracy")


def multi_hot(examples, labels) -> np.ndarray:
    return np.array([[int(label in ex.label) for label in labels] for ex in examples], dtype=int)


def tfidf_logreg(train, dev, test, labels) -> dict:
    """One-vs-rest logistic regression on TF-IDF of word 1-2-grams; a label absent from K-shot train cannot
    happen (the sampling guarantees K of each)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    features = vectorizer.fit_transform([ex.text_a for ex in train])
    model = OneVsRestClassifier(LogisticRegression(C=10.0, max_iter=1000)).fit(features, multi_hot(train, labels))
    dev_probs = model.predict_proba(vectorizer.transform([ex.text_a for ex in dev]))
    decision = MULTI_LABEL.choose_decision(multi_hot(dev, labels), dev_probs)
    test_probs = model.predict_proba(vectorizer.transform([ex.text_a for ex in test]))
    return multi_label_metrics(multi_hot(test, labels), (test_probs >= decision["threshold"]).astype(int))


def prompted_run(mode: str, seed: int, data, test, args) -> dict:
    pattern, words = resolve_prompt("goemotions", None, 0, None)
    config = RunConfig(
        model=args.model, data=args.data, task="goemotions", pattern_id=0, pattern=pattern, verbalizer=words,
        mode="pet" if mode == "zero-shot" else mode, shots=16, seed=seed, max_steps=args.steps,
        eval_every=args.steps // 4, batch_size=8, max_length=64, task_type="multi-label",
    )  # fmt: skip
    if mode == "zero-shot":
        run = api.build(config, data)
        _, dev = api.few_shot_split(config, data)
        run.decision = MULTI_LABEL.choose_decision(multi_hot(dev, run.pvp.labels), run.predict_proba(dev))
    else:
        run, _ = api.fit(config, data)
    return api.metrics_of(run.predict(test), run.pvp.labels, MULTI_LABEL) | {"threshold": run.decision["threshold"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(REPO.parent / "shared/models/bert-tiny"))
    parser.add_argument("--data", default=str(REPO.parent / "shared/data/goemotions"))
    parser.add_argument("--test", type=int, default=None, help="score on the first N test examples (default: all)")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--modes", nargs="*", default=list(MODES))
    parser.add_argument("--out", default=str(REPO / "docs/results/multi-label-goemotions.json"))
    args = parser.parse_args()
    data = load_task_data(args.data)
    test = data.splits["test"][: args.test]
    results = []
    for mode in args.modes:
        for seed in SEEDS:
            started = time.perf_counter()
            if mode == "tfidf-logreg":
                train, dev = MULTI_LABEL.few_shot(data, 16, seed, "sampled")
                metrics = tfidf_logreg(train, dev, test, data.labels)
            else:
                metrics = prompted_run(mode, seed, data, test, args)
            results.append({"mode": mode, "seed": seed, **metrics, "seconds": round(time.perf_counter() - started, 1)})
            print(json.dumps(results[-1]), flush=True)
            Path(args.out).write_text(json.dumps({"test_examples": len(test), "runs": results}, indent=1) + "\n")
    print(f"\n| mode | {' | '.join(METRICS)} |\n|---|{'---|' * len(METRICS)}")
    for mode in args.modes:
        rows = [r for r in results if r["mode"] == mode]
        cells = [
            f"{100 * np.mean([r[m] for r in rows]):.1f} ({100 * np.std([r[m] for r in rows]):.1f})" for m in METRICS
        ]
        print(f"| {mode} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
