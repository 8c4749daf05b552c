"""``bitfit``: only the bias terms train (Ben Zaken et al., ACL 2022), plus the readout.

With the default cloze readout the pattern is used and the MLM head's biases (its transform's
and the vocabulary bias) train with the encoder's; with ``--readout cls`` the bare text feeds a
new linear head on [CLS], as in the paper, and the unused MLM head stays untouched; with
``--readout warp`` the pattern is used and the encoder's biases train with warp's class embeddings.
"""

from __future__ import annotations

from torch import nn

from promptlearn.modes.base import register
from promptlearn.modes.readout import ReadoutChoice


@register
class BitfitMode(ReadoutChoice):
    name = "bitfit"
    description = "BitFit: only bias terms train (+ the readout); label words at [MASK] or a [CLS] head"
    default_learning_rate = 1e-3

    def attach(self, model) -> None:
        self.attach_head(model)

    def trained_parameters(self, model) -> dict[str, list[nn.Parameter]]:
        # the cloze readout reads the MLM head's biases too; cls and warp (own class biases) do not
        scope = model.backbone if self.options.readout == "cloze" else model.encoder
        biases = [p for name, p in scope.named_parameters() if name.endswith("bias")]
        return {"bias": biases, "head": self.head_parameters()}

    def group_learning_rates(self, learning_rate: float | None = None) -> dict[str, float]:
        return {"bias": learning_rate or self.default_learning_rate, "head": self.head_learning_rate}
