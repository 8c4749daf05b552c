"""One run of the real ``setfit`` library on an exported few-shot split, with its documented few-shot defaults.

    VENV/bin/python experiments/setfit_library.py --model MODEL --split SPLIT_DIR --seed 13 --output result.json

Run by experiments/contrastive_table.py inside the environment it makes for the library (never imported by
promptlearn). ``SPLIT_DIR`` holds the train/dev/test JSON lines promptlearn's rows read too; a pair task's two
texts are joined by a space, since SetFit reads one text per example. ``TrainingArguments()`` is left at the
library's defaults (batch 16, 1 epoch over oversampled pairs, body lr 2e-5, CosineSimilarityLoss,
LogisticRegression head) except ``seed``, set to the split's seed as promptlearn's rows do.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def read(path: Path) -> tuple[list[str], list[str]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [row["text"] + (" " + row["text_b"] if row.get("text_b") else "") for row in rows]
    return texts, [row["label"] for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--split", required=True, type=Path)
    parser.add_argument("--seed", required=True, type=int)
    parser.add_argument("--output", required=True, type=Path)
    args = parser.parse_args()

    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    started = time.perf_counter()
    train_texts, train_labels = read(args.split / "train.jsonl")
    test_texts, test_labels = read(args.split / "test.jsonl")
    model = SetFitModel.from_pretrained(args.model)
    training = TrainingArguments(seed=args.seed, show_progress_bar=False, report_to="none", save_strategy="no")
    trainer = Trainer(
        model=model, args=training, train_dataset=Dataset.from_dict({"text": train_texts, "label": train_labels})
    )
    trainer.train()
    predicted = [str(label) for label in model.predict(test_texts, batch_size=64, as_numpy=True)]
    accuracy = sum(p == g for p, g in zip(predicted, test_labels, strict=True)) / len(test_labels)
    result = {"test": {"accuracy": accuracy}, "wall_seconds": round(time.perf_counter() - started, 2)}
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
