"""Multiple choice as a cloze task (PET's COPA, RACE-style): every choice is the text at the pattern's mask.

An example with context ``text`` (+ ``question``) and n choices becomes n inputs; input i holds as many
masks as choice i has tokens. The choice's score is the log-probability of its tokens at those masks,
read in one forward pass, **averaged** per token by default (``--word-score mean``): a sum would favour
the shorter of two plausible choices by one token's log-probability each, and COPA's choices differ in
length. ``--word-score sum`` gives PET's sum. The choices' scores are softmaxed into probabilities;
the loss is cross-entropy over them. Examples may have different numbers of choices: a batch pads the
missing ones with -inf, which softmax gives probability 0 and cross-entropy never selects.
"""

from __future__ import annotations

import numpy as np
import torch


def choice_scores(log_probs: torch.Tensor, tokens: torch.Tensor, valid: torch.Tensor, word_score: str = "mean"):
    """One choice per row. Log-probabilities over the vocabulary at its masks (N, M, V), its token ids (N, M)
    and which of the M masks it uses (N, M) -> its score (N,): the mean (or ``"sum"``) of its tokens'
    log-probabilities."""
    picked = log_probs.gather(-1, tokens[..., None])[..., 0].masked_fill(~valid, 0.0)  # (N, M)
    total = picked.sum(dim=-1)
    return total / valid.sum(dim=-1).to(total.dtype) if word_score == "mean" else total


def group_choices(scores: torch.Tensor, counts: list[int]) -> torch.Tensor:
    """Flat choice scores (N,), ``counts`` choices per example in order -> (B, max count), padded with -inf."""
    grouped = scores.new_full((len(counts), max(counts)), -torch.inf)
    rows = torch.repeat_interleave(torch.arange(len(counts), device=scores.device), torch.tensor(counts).to(scores.device))
    columns = torch.cat([torch.arange(n, device=scores.device) for n in counts])
    grouped[rows, columns] = scores
    return grouped


def choice_loss(grouped: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over each example's choices: scores (B, C) padded with -inf, gold indices (B,)."""
    return torch.nn.functional.cross_entropy(grouped.float(), labels)


def choice_metrics(gold, probabilities: list) -> dict:
    """Accuracy of the most probable choice; ``probabilities``: one sequence per example, any lengths."""
    predicted = np.array([int(np.argmax(row)) for row in probabilities])
    return {"accuracy": float(np.mean(predicted == np.asarray(gold)))}
