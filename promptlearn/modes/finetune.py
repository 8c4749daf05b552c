"""``finetune``: classic full fine-tuning with a new classification head (Devlin et al., NAACL 2019).

The baseline prompt learning is measured against: the bare text in, the encoder and a fresh
linear head on [CLS] (or mean) train; the MLM head is not used, so it stays as it was and is
not stored. It is the ``head`` mode with the encoder unfrozen; the head gets a higher learning
rate than the pretrained encoder it sits on.
"""

from __future__ import annotations

from torch import nn

from promptlearn.modes.base import register
from promptlearn.modes.head import HeadMode


@register
class FinetuneMode(HeadMode):
    name = "finetune"
    description = "Classic fine-tuning: the whole encoder and a new [CLS] classifier train; no verbalizer"
    default_learning_rate = 1e-4
    head_learning_rate = 1e-3

    def trained_parameters(self, model) -> dict[str, list[nn.Parameter]]:
        return {"model": list(model.encoder.parameters()), **super().trained_parameters(model)}

    def group_learning_rates(self, learning_rate: float | None = None) -> dict[str, float]:
        return {"model": learning_rate or self.default_learning_rate, "head": self.head_learning_rate}
