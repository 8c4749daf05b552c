"""``mlm_head``: train only the MLM head's transform, its LayerNorm and the output bias.

The encoder keeps its representations; what changes is how the [MASK] state maps to label words.
The decoder weight stays frozen because it is tied to the input word embeddings: training it would
change every input too (and store a V x H matrix). The head is found per architecture by
:func:`promptlearn.readout.cloze.find_transform` (BERT, RoBERTa, DistilBERT, ALBERT, ELECTRA).
"""

from __future__ import annotations

from torch import nn

from promptlearn.errors import PromptlearnError
from promptlearn.modes.base import Mode, register
from promptlearn.readout.cloze import find_transform


@register
class MlmHeadMode(Mode):
    name = "mlm_head"
    description = "Only the MLM head's transform, LayerNorm and output bias train (tied decoder frozen)"
    default_learning_rate = 1e-3

    def trained_parameters(self, model) -> dict[str, list[nn.Parameter]]:
        transform = find_transform(model.backbone)
        if transform is None:
            raise PromptlearnError(
                f"Mode {self.name!r} does not know the MLM head of {type(model.backbone).__name__}; "
                "use --mode pet or soft_prompt with this model."
            )
        params = [p for step in transform.steps for p in step.parameters()]
        bias = model.backbone.get_output_embeddings().bias
        return {"head": params + ([bias] if bias is not None else [])}

    def group_learning_rates(self, learning_rate: float | None = None) -> dict[str, float]:
        return {"head": learning_rate or self.default_learning_rate}
