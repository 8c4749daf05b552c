"""A linear classification head on pooled encoder states: the readout of the non-cloze baselines.

Modes that classify without a verbalizer (``head``, ``finetune``, ``bitfit --readout cls``, ...)
own one :class:`ClassificationHead`; it knows nothing of modes, only hidden states and the mask.
"""

from __future__ import annotations

import torch
from torch import nn

from promptlearn.errors import PromptlearnError

POOLINGS = ("cls", "mean")


def check_pooling(pooling: str) -> None:
    """Raise a user-facing error for an unknown ``pooling`` name."""
    if pooling not in POOLINGS:
        raise PromptlearnError(f"--pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str = "cls") -> torch.Tensor:
    """One vector per example: hidden (B, T, H), attention_mask (B, T) -> (B, H).

    ``cls`` takes the first position (BERT's [CLS]); ``mean`` averages the attended positions only,
    so padding never dilutes short inputs.
    """
    if pooling == "cls":
        return hidden[:, 0]
    weights = attention_mask.to(hidden.dtype).unsqueeze(-1)  # (B, T, 1)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


class ClassificationHead(nn.Module):
    """Dropout + linear layer on the pooled state: hidden (B, T, H), attention_mask (B, T) -> logits (B, C).

    Initialised like BERT's classifiers (normal, std 0.02; zero bias) so every mode starts from
    the same, seeded head.
    """

    def __init__(self, hidden_size: int, num_labels: int, pooling: str = "cls", dropout: float = 0.1):
        super().__init__()
        check_pooling(pooling)
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.linear = nn.Linear(hidden_size, num_labels)
        nn.init.normal_(self.linear.weight, std=0.02)
        nn.init.zeros_(self.linear.bias)

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        pooled = pool(hidden, attention_mask, self.pooling)  # (B, H)
        return self.linear(self.dropout(pooled))  # (B, C)


READOUTS = ("cloze", "cls")


def check_readout(readout: str) -> None:
    """Raise a user-facing error unless ``readout`` is 'cloze' (label words at [MASK]) or 'cls' (a head)."""
    if readout not in READOUTS:
        raise PromptlearnError(
            f"--readout must be one of {', '.join(READOUTS)} "
            f"('cloze': label words at [MASK]; 'cls': a linear head on [CLS]), got {readout!r}"
        )
