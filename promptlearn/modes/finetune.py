"""``finetune``: classic full fine-tuning with a new classification head (Devlin et al., NAACL 2019).

The baseline prompt learning is measured against: the bare text in, the encoder and a fresh
linear head on [CLS] (or mean) train; the MLM head is not used, so it stays as it was and is
not stored. The head gets a higher learning rate than the pretrained encoder it sits on.
"""

from __future__ import annotations

import torch
from torch import nn

from promptlearn.heads import ClassificationHead
from promptlearn.modes.base import Mode, register
from promptlearn.modes.head import HeadOptions


@register
class FinetuneMode(Mode):
    name = "finetune"
    description = "Classic fine-tuning: the whole encoder and a new [CLS] classifier train; no verbalizer"
    options_class = HeadOptions
    default_learning_rate = 1e-4
    head_learning_rate = 1e-3
    uses_verbalizer = False

    def adapt_pattern(self, pattern):
        return pattern.inputs_only()

    def attach(self, model) -> None:
        self.head = ClassificationHead(model.hidden_size, model.num_labels, self.options.pooling)

    def trained_parameters(self, model) -> dict[str, list[nn.Parameter]]:
        return {"model": list(model.encoder.parameters()), "head": list(self.head.parameters())}

    def group_learning_rates(self, learning_rate: float | None = None) -> dict[str, float]:
        return {"model": learning_rate or self.default_learning_rate, "head": self.head_learning_rate}

    def readout(self, model, hidden: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.head(hidden, batch["attention_mask"])
