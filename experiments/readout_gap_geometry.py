"""Why a frozen MLM's cloze readout trails a linear head (docs/modes.md, "Choosing a readout").

Run from the repository root (a few minutes on one CPU thread):

    PYTHONPATH=. OMP_NUM_THREADS=1 python experiments/readout_gap_geometry.py \
        --output docs/results/readout-gap/geometry.json

Per task, on the untrained bert-tiny with the preset's first pattern and words (no prompt; built as
``bitfit``, whose cloze readout computes the full last layer, so that [CLS] can be read too):

- ``row_cosine``: pairwise cosine of the label words' output-embedding rows (the directions the
  cloze readout scores along, in the space after the MLM head's transform): mean and max.
- ``score_correlation``: mean Pearson correlation, over the test examples, between two classes'
  cloze scores: near 1 means the label-word logits rise and fall together, so little of the [MASK]
  state's variation separates the classes.
- ``zero_shot``: the cloze readout's test accuracy and the share of its most predicted class.
- ``probe``: a logistic regression trained on each seed's K = 16 per label (sklearn, default L2,
  C = 1), test accuracy mean and std over seeds 13/21/42/87/100, on three states of the same pass:
  ``mask_transformed`` (what the cloze and warp readouts read, along learned directions),
  ``mask`` (the raw [MASK] state: what the prompt modes' cls head reads) and ``cls`` (the [CLS] state).
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from promptlearn import api
from promptlearn.data.examples import load_task_data
from promptlearn.data.sampling import few_shot
from promptlearn.prompt.presets import task_pattern, task_verbalizer
from promptlearn.readout.cloze import find_transform
from promptlearn.run.config import RunConfig

TASKS = ("agnews", "sst5", "sst2")
SEEDS = (13, 21, 42, 87, 100)


STATES = ("mask_transformed", "mask", "cls")


@torch.no_grad()
def mask_states(run: api.Prompted, examples) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """({state name: (N, H)} for :data:`STATES`, cloze scores (N, C)) of the untrained model."""
    run.model.eval()
    transform = find_transform(run.model.backbone)
    states, scores = {name: [] for name in STATES}, []
    encoded = run.pvp.encode(examples)
    for start in range(0, len(encoded), 256):
        batch = run.pvp.collate(encoded[start : start + 256])
        hidden = run.model.hidden_states(batch)  # (B, T, H): every position (bitfit runs the full last layer)
        mask = hidden[torch.arange(hidden.size(0)), batch["mask_positions"]]  # (B, H)
        for name, state in zip(STATES, (transform(mask), mask, hidden[:, 0]), strict=True):
            states[name].append(state)
        scores.append(run.model(batch))
    return {name: torch.cat(parts).numpy() for name, parts in states.items()}, torch.cat(scores).numpy()


def task_geometry(model: str, data_root: Path, task: str) -> dict:
    data = load_task_data(str(data_root / task))
    words = task_verbalizer(task)
    config = RunConfig(model=model, data=str(data_root / task), task=task, mode="bitfit",
                       pattern=task_pattern(task).pattern, verbalizer=words.to_dict())  # fmt: skip
    run = api.build(config, data)
    index = {label: i for i, label in enumerate(run.pvp.labels)}
    ids = run.model.label_words.table[:, 0]
    rows = torch.nn.functional.normalize(run.model.backbone.get_output_embeddings().weight[ids].detach(), dim=-1)
    cosine = (rows @ rows.T).numpy()
    pairs = list(itertools.combinations(range(len(ids)), 2))
    test = data.split("test")
    gold = np.array([index[ex.label] for ex in test])
    states, scores = mask_states(run, test)
    predicted = scores.argmax(axis=1)
    correlation = np.corrcoef(scores.T)
    probe = {name: [] for name in STATES}
    for seed in SEEDS:
        train, _ = few_shot(data, 16, seed, "sampled")
        train_states, _ = mask_states(run, train)
        for name in STATES:
            classifier = LogisticRegression(max_iter=2000).fit(train_states[name], [index[ex.label] for ex in train])
            probe[name].append(float((classifier.predict(states[name]) == gold).mean()))
    return {
        "words": words.to_dict(),
        "row_cosine": {
            "mean": float(np.mean([cosine[i, j] for i, j in pairs])),
            "max": float(max(cosine[i, j] for i, j in pairs)),
        },
        "score_correlation": float(np.mean([correlation[i, j] for i, j in pairs])),
        "zero_shot": {
            "accuracy": float((predicted == gold).mean()),
            "top_class_share": float(np.bincount(predicted).max() / len(predicted)),
        },
        "probe": {
            name: {"accuracy_mean": float(np.mean(accs)), "accuracy_std": float(np.std(accs)), "per_seed": accs}
            for name, accs in probe.items()
        },
        "test_examples": len(test),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="../shared/models/bert-tiny")
    parser.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = {task: task_geometry(args.model, args.data_root, task) for task in TASKS}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
