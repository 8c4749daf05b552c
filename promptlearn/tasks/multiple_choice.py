"""Multiple choice as a cloze task (PET's COPA, RACE-style): every choice is the text at the pattern's mask.

An example with context ``text`` (+ ``question``) and n choices becomes n inputs; input i holds as many
masks as choice i has tokens. The choice's score is the log-probability of its tokens at those masks,
read in one forward pass, **averaged** per token by default (``--word-score mean``): a sum would favour
the shorter of two plausible choices by one token's log-probability each, and COPA's choices differ in
length. ``--word-score sum`` gives PET's sum. The choices' scores are softmaxed into probabilities;
the loss is cross-entropy over them. Examples may have different numbers of choices: a batch pads the
missing ones with -inf, which softmax gives probability 0 and cross-entropy never selects. A run's labels
are the choice positions "0" .. "C-1", C the most choices an example of its data has.

K-shot: K examples (not K per label: a choice's position carries no meaning) for train and K more
for dev from the rest of train, as LM-BFF samples dev.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import numpy as np
from sklearn.metrics import f1_score

from promptlearn.data.examples import Example, TaskData
from promptlearn.data.sampling import checked_request, few_shot
from promptlearn.errors import PromptlearnError
from promptlearn.tasks.base import TaskShape, register_shape

if TYPE_CHECKING:
    import torch


def choice_scores(log_probs: torch.Tensor, tokens: torch.Tensor, valid: torch.Tensor, word_score: str = "mean"):
    """One choice per row. Log-probabilities over the vocabulary at its masks (N, M, V), its token ids (N, M)
    and which of the M masks it uses (N, M) -> its score (N,): the mean (or ``"sum"``) of its tokens'
    log-probabilities."""
    picked = log_probs.gather(-1, tokens[..., None])[..., 0].masked_fill(~valid, 0.0)  # (N, M)
    total = picked.sum(dim=-1)
    return total / valid.sum(dim=-1).to(total.dtype) if word_score == "mean" else total


def group_choices(scores: torch.Tensor, counts, width: int | None = None) -> torch.Tensor:
    """Flat choice scores (N,), ``counts`` (B,) choices per example in order -> (B, width), padded with -inf.

    ``width``: the run's number of choice columns (default: the most choices in this batch), so that
    every batch's probabilities stack into one (N, C) array.
    """
    import torch

    counts = torch.as_tensor(counts, device=scores.device)
    width = int(counts.max()) if width is None else width
    present = torch.arange(width, device=scores.device) < counts[:, None]  # (B, C)
    grouped = scores.new_full(present.shape, -torch.inf)
    grouped[present] = scores  # row-major: each example's choices in order
    return grouped


def choice_loss(grouped: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over each example's choices: scores (B, C) padded with -inf, gold indices (B,)."""
    import torch

    return torch.nn.functional.cross_entropy(grouped.float(), labels)


def choice_metrics(gold, probabilities: list) -> dict:
    """Accuracy of the most probable choice, and macro-F1 over the answer positions (low when a model keeps
    picking one position, as accuracy alone would not show); ``probabilities``: one sequence per example."""
    predicted = [int(np.argmax(row)) for row in probabilities]
    positions = list(range(max(len(row) for row in probabilities)))
    return {
        "accuracy": float(np.mean(np.asarray(predicted) == np.asarray(gold))),
        "macro_f1": float(f1_score(gold, predicted, labels=positions, average="macro", zero_division=0)),
    }


class MultipleChoice(TaskShape):
    """Each choice read at the pattern's masks; needs a mode that reads words at [MASK] and no verbalizer."""

    name = "multiple-choice"
    averages = True  # members' choice probabilities average like class probabilities
    #: the words at the mask come from each example (its choices): no verbalizer, no head
    choices_are_words = True
    serves_pet = False  # its data files keep no choices; fewshot's pattern ensembles average choice probabilities
    refusal = "an example's choices are its words and change with every example; there are no fixed classes."

    def detect(self, data: TaskData) -> bool:
        return any(ex.choices is not None for examples in data.splits.values() for ex in examples)

    def labels_of(self, data: TaskData) -> list[str]:
        most = max((len(ex.choices or ()) for examples in data.splits.values() for ex in examples), default=0)
        return [str(i) for i in range(most)]

    def check_data(self, pvp, data: TaskData) -> None:
        for split, examples in data.splits.items():
            missing = [row for row, ex in enumerate(examples, start=1) if ex.choices is None]
            if missing:
                raise PromptlearnError(
                    f"{data.source}: row {missing[0]} of the {split!r} split has no 'choices'; every multiple-choice "
                    "example needs its list of choices (row 1 is the first example)."
                )

    def target(self, label, index: dict[str, int]) -> int:
        if label is None:
            return -1
        if label not in index:
            raise PromptlearnError(f"The answer {label!r} is not a choice index of this run (0 to {len(index) - 1})")
        return index[label]

    def loss(self, scores, targets):
        return choice_loss(scores, targets)

    def probabilities(self, scores):
        import torch

        return torch.softmax(scores.float(), dim=-1)

    def metrics(self, gold, probabilities, num_labels, decision=None) -> dict:
        return choice_metrics(gold, probabilities)

    def record(self, example: Example, labels, probabilities, decision) -> dict:
        record = {"text": example.text_a}
        if example.question is not None:
            record["question"] = example.question
        shown = [round(float(p), 6) for p in probabilities[: len(example.choices)]]
        return record | {
            "choices": list(example.choices),
            "gold": None if example.label is None else int(example.label),
            "predicted": int(np.argmax(shown)),
            "probabilities": shown,
        }

    def record_metrics(self, records, labels) -> dict:
        return choice_metrics([r["gold"] for r in records], [r["probabilities"] for r in records])

    def few_shot(self, data, shots, seed, dev_split):
        """K examples for train and (``dev_split="sampled"``) K more for dev, drawn by the seed."""
        if shots is None:
            return few_shot(data, None, seed, dev_split)
        sample_dev = checked_request(data, shots, dev_split, unit="K examples")
        train = data.split("train")
        needed = shots * (2 if sample_dev else 1)
        if len(train) < needed:
            raise PromptlearnError(
                f"--shots {shots} needs {needed} training examples"
                f"{' (K for train + K for dev, sampled from train)' if sample_dev else ''}, "
                f"{data.source} has {len(train)}. Lower --shots"
                + (
                    ", or select on the data's dev split with --dev-split given."
                    if sample_dev and "dev" in data.splits
                    else "."
                )
            )
        picked = random.Random(seed).sample(range(len(train)), needed)
        dev = [train[i] for i in picked[shots:]] if sample_dev else data.splits["dev"]
        return [train[i] for i in picked[:shots]], dev


MULTIPLE_CHOICE = register_shape(MultipleChoice())
