"""Baselines for the regression (stsb), multiple-choice (copa) and multi-label (goemotions) tables of docs/tasks.md.

Run from the repository root (about two minutes on one CPU core):

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 python3 experiments/shape_baselines.py

Each K = 16 split is the library's own (``TaskShape.few_shot`` of ``promptlearn.tasks``), seeds 13, 21, 42,
87, 100, so the baselines see the same examples as ``promptlearn fewshot``. Scored on the full test sets:

- stsb, word overlap: the Jaccard overlap of the two sentences' lower-cased words (no training;
  correlations do not depend on the scale);
- stsb, cosine: the cosine of bert-tiny's mean-pooled last-layer states of the two sentences (no training);
- stsb, ridge: ridge regression (scikit-learn's ``RidgeCV``, alpha chosen by leave-one-out on the
  K-shot train split) on frozen bert-tiny features ``[|u - v|, u * v, cosine, overlap]``;
- copa, word overlap: the choice sharing the larger Jaccard overlap with the premise;
- copa, cosine: the choice whose mean-pooled bert-tiny state is closest to the premise's;
- copa, logistic: logistic regression on frozen features of (premise, choice, question) pairs,
  ``[|u - v|, u * v, cosine, overlap]`` times the question's sign (cause / effect), choice with the
  higher probability;
- goemotions, TF-IDF: one-vs-rest logistic regression (scikit-learn, C = 10) on TF-IDF of word 1-2-grams, its
  one threshold chosen on the K-shot dev split as a multi-label run chooses its own
  (``promptlearn.tasks.multi_label.best_threshold``); a label absent from K-shot train cannot happen (the
  sampling takes at least K of each).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.multiclass import OneVsRestClassifier
from transformers import AutoModel, AutoTokenizer

from promptlearn.data.examples import load_task_data
from promptlearn.data.sampling import LM_BFF_SEEDS
from promptlearn.tasks import get_shape
from promptlearn.tasks.multi_label import best_threshold, multi_label_metrics
from promptlearn.tasks.regression import regression_metrics

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT.parent / "shared" / "models" / "bert-tiny"
DATA = ROOT.parent / "shared" / "data"


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9']+", text.lower()))


def overlap(a: str, b: str) -> float:
    first, second = words(a), words(b)
    return len(first & second) / max(1, len(first | second))


class Encoder:
    """bert-tiny's mean-pooled last-layer states, cached per text."""

    def __init__(self):
        self.tokenizer = AutoTokenizer.from_pretrained(MODEL)
        self.model = AutoModel.from_pretrained(MODEL).eval()
        self.cache: dict[str, np.ndarray] = {}

    @torch.no_grad()
    def __call__(self, texts: list[str]) -> np.ndarray:
        new = sorted({t for t in texts if t not in self.cache})
        for start in range(0, len(new), 64):
            chunk = new[start : start + 64]
            batch = self.tokenizer(chunk, padding=True, truncation=True, max_length=128, return_tensors="pt")
            hidden = self.model(**batch).last_hidden_state  # (B, T, H)
            mask = batch["attention_mask"][..., None].float()
            pooled = (hidden * mask).sum(1) / mask.sum(1)
            self.cache.update(zip(chunk, pooled.numpy(), strict=True))
        return np.stack([self.cache[t] for t in texts])


def cosine(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return (u * v).sum(-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))


def pair_features(encode: Encoder, first: list[str], second: list[str]) -> np.ndarray:
    u, v = encode(first), encode(second)
    shared = np.array([overlap(a, b) for a, b in zip(first, second, strict=True)])
    return np.hstack([np.abs(u - v), u * v, cosine(u, v)[:, None], shared[:, None]])


def stsb(encode: Encoder) -> dict[str, list[dict]]:
    task_type = get_shape("regression")
    data = load_task_data(str(DATA / "stsb"))
    test = data.split("test")
    gold = [float(ex.label) for ex in test]
    a, b = [ex.text_a for ex in test], [ex.text_b for ex in test]
    results = {
        "word overlap": [regression_metrics(gold, [overlap(x, y) for x, y in zip(a, b, strict=True)])],
        "cosine": [regression_metrics(gold, cosine(encode(a), encode(b)))],
        "ridge": [],
    }
    test_features = pair_features(encode, a, b)
    for seed in LM_BFF_SEEDS:
        train, _dev = task_type.few_shot(data, 16, seed, "sampled")
        features = pair_features(encode, [ex.text_a for ex in train], [ex.text_b for ex in train])
        ridge = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(features, [float(ex.label) for ex in train])
        results["ridge"].append(regression_metrics(gold, ridge.predict(test_features)))
    return results


def choice_features(encode: Encoder, examples, choice: int) -> np.ndarray:
    sign = np.array([1.0 if ex.question == "effect" else -1.0 for ex in examples])[:, None]
    premise = [ex.text_a for ex in examples]
    return pair_features(encode, premise, [ex.choices[choice] for ex in examples]) * sign


def copa(encode: Encoder) -> dict[str, list[dict]]:
    task_type = get_shape("multiple-choice")
    data = load_task_data(str(DATA / "copa"))
    test = data.split("test")
    gold = np.array([int(ex.label) for ex in test])

    def accuracy(scores: np.ndarray) -> dict:
        return {"accuracy": float(np.mean(scores.argmax(1) == gold))}

    premise = [ex.text_a for ex in test]
    by_overlap = np.array([[overlap(ex.text_a, c) for c in ex.choices] for ex in test])
    by_cosine = np.stack([cosine(encode(premise), encode([ex.choices[i] for ex in test])) for i in range(2)], 1)
    results = {"word overlap": [accuracy(by_overlap)], "cosine": [accuracy(by_cosine)], "logistic": []}
    test_features = [choice_features(encode, test, i) for i in range(2)]
    for seed in LM_BFF_SEEDS:
        train, _dev = task_type.few_shot(data, 16, seed, "sampled")
        features = np.vstack([choice_features(encode, train, i) for i in range(2)])
        right = np.array([int(ex.label) == i for i in range(2) for ex in train])
        model = LogisticRegression(max_iter=2000).fit(features, right)
        scores = np.stack([model.predict_proba(f)[:, 1] for f in test_features], 1)
        results["logistic"].append(accuracy(scores))
    return results


def goemotions() -> dict[str, list[dict]]:
    task_type = get_shape("multi-label")
    data = load_task_data(str(DATA / "goemotions"))
    test = data.split("test")

    def multi_hot(examples) -> np.ndarray:
        return np.array([[int(label in ex.label) for label in data.labels] for ex in examples])

    results = {"tfidf-logreg": []}
    for seed in LM_BFF_SEEDS:
        train, dev = task_type.few_shot(data, 16, seed, "sampled")
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        features = vectorizer.fit_transform([ex.text_a for ex in train])
        model = OneVsRestClassifier(LogisticRegression(C=10.0, max_iter=1000)).fit(features, multi_hot(train))
        threshold = best_threshold(multi_hot(dev), model.predict_proba(vectorizer.transform([ex.text_a for ex in dev])))
        probabilities = model.predict_proba(vectorizer.transform([ex.text_a for ex in test]))
        results["tfidf-logreg"].append(multi_label_metrics(multi_hot(test), (probabilities >= threshold).astype(int)))
    return results


def summary(runs: list[dict]) -> dict:
    """Mean (std) over seeds; correlations and accuracy in percent, MSE as it is."""
    cells = {}
    for key in runs[0]:
        scale = 1 if key == "mse" else 100
        values = [scale * r[key] for r in runs]
        spread = f" ({np.std(values):.2f})" if len(values) > 1 else ""  # population std, as the grid's tables
        cells[key] = f"{np.mean(values):.2f}{spread}"
    return cells


def main() -> None:
    torch.manual_seed(0)
    encode = Encoder()
    table = {"stsb": stsb(encode), "copa": copa(encode), "goemotions": goemotions()}
    out = {task: {name: summary(runs) for name, runs in rows.items()} for task, rows in table.items()}
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
