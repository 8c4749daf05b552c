"""``bitfit``: only the bias terms train (Ben Zaken et al., ACL 2022), plus the readout.

With the default cloze readout the pattern is used and the MLM head's biases (its transform's
and the vocabulary bias) train with the encoder's; with ``--readout cls`` the bare text feeds a
new linear head on [CLS], as in the paper, and the unused MLM head stays untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from promptlearn.heads import ClassificationHead, check_readout
from promptlearn.modes.base import Mode, ModeOptions, register


@dataclass
class BitfitOptions(ModeOptions):
    """``readout``: 'cloze' (label words at [MASK], the default) or 'cls' (linear head on [CLS])."""

    readout: str = "cloze"

    def __post_init__(self):
        check_readout(self.readout)


@register
class BitfitMode(Mode):
    name = "bitfit"
    description = "BitFit: only bias terms train (+ the readout); label words at [MASK] or a [CLS] head"
    options_class = BitfitOptions
    default_learning_rate = 1e-3
    head_learning_rate = 1e-3

    def __init__(self, options: BitfitOptions | None = None):
        super().__init__(options)
        self.uses_verbalizer = self.options.readout == "cloze"

    def adapt_pattern(self, pattern):
        pattern = super().adapt_pattern(pattern)
        return pattern if self.uses_verbalizer else pattern.inputs_only()

    def attach(self, model) -> None:
        if not self.uses_verbalizer:
            self.head = ClassificationHead(model.hidden_size, model.num_labels)

    def trained_parameters(self, model) -> dict[str, list[nn.Parameter]]:
        scope = model.backbone if self.uses_verbalizer else model.encoder
        biases = [p for name, p in scope.named_parameters() if name.endswith("bias")]
        head = [] if self.uses_verbalizer else list(self.head.parameters())
        return {"bias": biases, "head": head}

    def group_learning_rates(self, learning_rate: float | None = None) -> dict[str, float]:
        return {"bias": learning_rate or self.default_learning_rate, "head": self.head_learning_rate}

    def readout(self, model, hidden: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.uses_verbalizer:
            return super().readout(model, hidden, batch)
        return self.head(hidden, batch["attention_mask"])
