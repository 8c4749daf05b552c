"""``head``: a linear classifier on the frozen encoder (a linear probe; no prompt, no verbalizer).

The input is the bare text (:meth:`~promptlearn.prompt.pattern.Pattern.inputs_only`), as classic
classifiers read it; the pattern's prompt words are not used.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from promptlearn.modes.base import Mode, ModeOptions, option, register
from promptlearn.readout.heads import ClassificationHead, check_pooling


@dataclass
class HeadOptions(ModeOptions):
    """How the classifier reads the encoder."""

    pooling: str = option("cls", "'cls' (the [CLS] state) or 'mean' (average over the input's tokens).", flag=True)

    def __post_init__(self):
        check_pooling(self.pooling)


@register
class HeadMode(Mode):
    name = "head"
    description = "Linear classifier on the frozen encoder's [CLS] (or mean) state; no verbalizer"
    options_class = HeadOptions
    default_learning_rate = 1e-2
    uses_verbalizer = False

    def adapt_pattern(self, pattern):
        return pattern.inputs_only()

    def attach(self, model) -> None:
        self.head = ClassificationHead(model.hidden_size, model.head_outputs, self.options.pooling)

    def trained_parameters(self, model) -> dict[str, list[nn.Parameter]]:
        return {"head": list(self.head.parameters())}

    def group_learning_rates(self, learning_rate: float | None = None) -> dict[str, float]:
        return {"head": learning_rate or self.default_learning_rate}
