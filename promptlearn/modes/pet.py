"""``pet``: train the whole masked LM through the cloze objective (Schick & Schütze, EACL 2021).

``train_layers=top:N`` trains only the top N layers and the MLM head's transform and bias (the
embeddings, and the decoder tied to them, stay frozen); ``layer_lr_decay`` gives lower layers
smaller learning rates (:mod:`promptlearn.backbone.layerwise`).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from promptlearn.backbone.layerwise import LayerwiseOptions, depth_groups, depth_rates, num_layers
from promptlearn.modes.base import Mode, ModeOptions, register


@dataclass
class PetOptions(ModeOptions, LayerwiseOptions):
    """With top:N, the MLM head's transform and bias train too; the tied decoder trains at the embeddings' rate."""

    def __post_init__(self):
        self.check_layerwise()


@register
class PetMode(Mode):
    name = "pet"
    description = "PET: the whole MLM trains on label-word scores at [MASK] (or its top layers, with LLRD)"
    options_class = PetOptions
    default_learning_rate = 1e-4

    def attach(self, model) -> None:
        self.layers = num_layers(model)

    def trained_parameters(self, model) -> dict[str, list[nn.Parameter]]:
        if not self.options.layerwise:
            return {"model": list(model.backbone.parameters())}
        return depth_groups(model.backbone.named_parameters(), model, self.options)

    def group_learning_rates(self, learning_rate: float | None = None) -> dict[str, float]:
        rate = learning_rate or self.default_learning_rate
        layers = getattr(self, "layers", 0)
        return depth_rates(rate, layers, self.options.layer_lr_decay) if layers else {"model": rate}
