"""``adapter``: bottleneck adapters in every layer of the frozen encoder (Houlsby et al., ICML 2019).

The maintained ``adapters`` library (1.3.0) requires transformers ~= 4.57, not the 5.x we run, so
the adapters are ours (:mod:`promptlearn.modes.bottleneck`): ``placement=houlsby`` after the
attention and the feed-forward block, ``pfeiffer`` after the feed-forward block only; bottleneck
width H / ``reduction_factor``; near-identity start. Only the adapters (and, with ``readout=cls``,
a [CLS] head) train; the default readout is label words at [MASK].
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers.activations import ACT2FN

from promptlearn.errors import PromptlearnError
from promptlearn.heads import ClassificationHead, check_readout
from promptlearn.modes.base import Mode, ModeOptions, register
from promptlearn.modes.bottleneck import PLACEMENTS, Adapter, hook, sublayer_outputs


@dataclass
class AdapterOptions(ModeOptions):
    """``placement``: 'houlsby' (after attention and feed-forward) or 'pfeiffer' (after feed-forward).
    ``reduction_factor``: bottleneck width = hidden size / this. ``non_linearity``: an activation
    name of transformers: swish (the default, as in the adapters library's Houlsby setup), relu,
    gelu, tanh, ... ``readout``: 'cloze' or 'cls'."""

    placement: str = "houlsby"
    reduction_factor: int = 16
    non_linearity: str = "swish"
    readout: str = "cloze"

    def __post_init__(self):
        if self.placement not in PLACEMENTS:
            raise PromptlearnError(f"adapter: placement must be one of {', '.join(PLACEMENTS)}, got {self.placement!r}")
        factor = self.reduction_factor
        if isinstance(factor, bool) or not isinstance(factor, int) or factor <= 0:
            raise PromptlearnError(f"adapter: reduction_factor must be a positive integer, got {factor!r}")
        if self.non_linearity not in ACT2FN:
            raise PromptlearnError(
                f"adapter: unknown non_linearity {self.non_linearity!r}; choose e.g. relu, gelu, tanh, swish"
            )
        check_readout(self.readout)


@register
class AdapterMode(Mode):
    name = "adapter"
    description = "Bottleneck adapters (Houlsby / Pfeiffer) in every layer, frozen model; label words or [CLS] head"
    options_class = AdapterOptions
    default_learning_rate = 5e-3
    head_learning_rate = 1e-3

    def __init__(self, options: AdapterOptions | None = None):
        super().__init__(options)
        self.uses_verbalizer = self.options.readout == "cloze"

    def adapt_pattern(self, pattern):
        pattern = super().adapt_pattern(pattern)
        return pattern if self.uses_verbalizer else pattern.inputs_only()

    def attach(self, model) -> None:
        options = self.options
        outputs = sublayer_outputs(model.encoder, options.placement)
        self.adapters = nn.ModuleList(
            Adapter(model.hidden_size, options.reduction_factor, options.non_linearity) for _ in outputs
        )
        for linear, adapter in zip(outputs, self.adapters, strict=True):
            hook(linear, adapter)
        self.head = None if self.uses_verbalizer else ClassificationHead(model.hidden_size, model.num_labels)

    def trained_parameters(self, model) -> dict[str, list[nn.Parameter]]:
        head = [] if self.head is None else list(self.head.parameters())
        return {"adapters": list(self.adapters.parameters()), "head": head}

    def group_learning_rates(self, learning_rate: float | None = None) -> dict[str, float]:
        return {"adapters": learning_rate or self.default_learning_rate, "head": self.head_learning_rate}

    def readout(self, model, hidden: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.head is None:
            return super().readout(model, hidden, batch)
        return self.head(hidden, batch["attention_mask"])  # (B, C) from [CLS]
