"""Class scores from hidden states: the readout a mode declares (label words at the mask, or its head)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from promptlearn.readout.masked_lm import MaskedLM


def cloze_scores(model: MaskedLM, hidden: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Hidden states (B, T, H) -> class scores (B, C): the label words at the mask(s)."""
    return model.cloze_scores(hidden, batch)


def head_scores(head: nn.Module, hidden: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Hidden states (B, T, H) -> class scores (B, C): ``head`` (a ClassificationHead, or a WarpHead at [MASK])."""
    return head(hidden, batch["attention_mask"], batch.get("mask_positions"))


def class_scores(model: MaskedLM, head: nn.Module | None, hidden: torch.Tensor, batch: dict[str, torch.Tensor]):
    """The readout a mode declares: its ``head``'s scores when it owns one, else the label words' (B, C);
    a multiple-choice batch (``choice_tokens``) scores each example's choices at their masks."""
    if "choice_tokens" in batch:
        return model.choice_scores(hidden, batch)
    if head is None:
        return cloze_scores(model, hidden, batch)
    return head_scores(head, hidden, batch)
