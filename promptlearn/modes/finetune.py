"""``finetune``: classic full fine-tuning with a new classification head (Devlin et al., NAACL 2019).

The baseline prompt learning is measured against: the bare text in, the encoder and a fresh
linear head on [CLS] (or mean) train; the MLM head is not used, so it stays as it was and is
not stored. It is the ``head`` mode with the encoder unfrozen; the head gets a higher learning
rate than the pretrained encoder it sits on. ``train_layers=top:N`` and ``layer_lr_decay`` act
on the encoder as in ``pet`` (:mod:`promptlearn.backbone.layerwise`); the head keeps its own rate.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from promptlearn.backbone.layerwise import LayerwiseOptions, depth_groups, depth_rates, num_layers
from promptlearn.modes.base import register
from promptlearn.modes.head import HeadMode, HeadOptions


@dataclass
class FinetuneOptions(HeadOptions, LayerwiseOptions):
    """With top:N, any pooler trains too, with the head."""

    def __post_init__(self):
        super().__post_init__()
        self.check_layerwise()


@register
class FinetuneMode(HeadMode):
    name = "finetune"
    description = "Classic fine-tuning: the whole encoder (or its top layers, with LLRD) and a new [CLS] classifier"
    options_class = FinetuneOptions
    default_learning_rate = 1e-4
    head_learning_rate = 1e-3

    def attach(self, model) -> None:
        super().attach(model)
        self.layers = num_layers(model)

    def trained_parameters(self, model) -> dict[str, list[nn.Parameter]]:
        if self.options.layerwise:
            encoder = depth_groups(model.encoder.named_parameters(), model, self.options)
        else:
            encoder = {"model": list(model.encoder.parameters())}
        return {**encoder, **super().trained_parameters(model)}

    def group_learning_rates(self, learning_rate: float | None = None) -> dict[str, float]:
        rate = learning_rate or self.default_learning_rate
        layers = getattr(self, "layers", 0)
        encoder = depth_rates(rate, layers, self.options.layer_lr_decay) if layers else {"model": rate}
        return {**encoder, "head": self.head_learning_rate}
