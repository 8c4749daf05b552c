"""A linear classification head on pooled encoder states: the readout of the non-cloze baselines.

Modes that classify without a verbalizer (``head``, ``finetune``, ``bitfit --readout cls``, ...)
own one :class:`ClassificationHead`; it knows nothing of modes, only hidden states and the mask.
As ``--readout cls`` it reads the state the mode's pooling names ([CLS], or [MASK] in prompt modes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from promptlearn.errors import PromptlearnError
from promptlearn.readout.registry import Readout, register_readout

if TYPE_CHECKING:
    from promptlearn.readout.masked_lm import MaskedLM

POOLINGS = ("cls", "mean")
#: what a head may pool: the user's choices (``--pooling``) and the [MASK] state, which prompt modes' heads read
HEAD_POOLINGS = (*POOLINGS, "mask")


def check_pooling(pooling: str) -> None:
    """Raise a user-facing error for an unknown ``pooling`` name."""
    if pooling not in POOLINGS:
        raise PromptlearnError(f"--pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")


def pool(
    hidden: torch.Tensor,
    attention_mask: torch.Tensor,
    pooling: str = "cls",
    mask_positions: torch.Tensor | None = None,
) -> torch.Tensor:
    """One vector per example: hidden (B, T, H), attention_mask (B, T) -> (B, H).

    ``cls`` takes the first position (BERT's [CLS]); ``mean`` averages the attended positions only,
    so padding never dilutes short inputs; ``mask`` takes the (first) [MASK] at ``mask_positions`` (B,).
    """
    if pooling == "cls":
        return hidden[:, 0]
    if pooling == "mask":
        return hidden[torch.arange(hidden.size(0), device=hidden.device), mask_positions]
    weights = attention_mask.to(hidden.dtype).unsqueeze(-1)  # (B, T, 1)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


class ClassificationHead(nn.Module):
    """Dropout + linear layer on the pooled state: hidden (B, T, H), attention_mask (B, T) -> logits (B, C).

    Initialised like BERT's classifiers (normal, std 0.02; zero bias) so every mode starts from
    the same, seeded head. ``pooling`` is one of :data:`HEAD_POOLINGS` ('mask' needs the batch's
    ``mask_positions``).
    """

    def __init__(self, hidden_size: int, num_labels: int, pooling: str = "cls", dropout: float = 0.1):
        super().__init__()
        if pooling not in HEAD_POOLINGS:
            check_pooling(pooling)
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(hidden_size, num_labels)
        nn.init.normal_(self.linear.weight, std=0.02)
        nn.init.zeros_(self.linear.bias)

    def forward(
        self, hidden: torch.Tensor, attention_mask: torch.Tensor, mask_positions: torch.Tensor | None = None
    ) -> torch.Tensor:
        pooled = pool(hidden, attention_mask, self.pooling, mask_positions)  # (B, H)
        return self.linear(self.dropout(pooled))  # (B, C)


def classification_head(model: MaskedLM, pooling: str) -> ClassificationHead:
    """The ``cls`` readout's head: a new linear layer on the state ``pooling`` names."""
    return ClassificationHead(model.hidden_size, model.head_outputs, pooling)


register_readout(
    Readout(
        "cls",
        classification_head,
        reads_label_words=False,
        summary="a new linear head, on [CLS] or, in prompt modes, on [MASK]",
        pools=True,
    )
)
