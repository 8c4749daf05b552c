"""The ``warp`` readout: the verbalizer's words become trainable class embeddings at [MASK].

WARP (Hambardzumyan et al., ACL 2021) scores class c as ``<transform(h_mask), e_c> + b_c``, with the
masked LM's own head transform (frozen) and a trainable embedding e_c and bias b_c per class. We
start e_c and b_c at the mean of class c's label words' output-embedding rows and vocabulary
biases, so before training the scores are exactly the cloze readout's (a label's cloze score is
the mean of its words' logits, which is linear in those rows); training then moves them like a
linear head, so the zero-shot knowledge of the verbalizer is the starting point, not a constraint.

Multi-token label words are refused: their cloze score is a mean of log-probabilities (through
the vocabulary's log-normaliser, at several masks), which no class embedding reproduces, so the
"starts at the cloze scores" promise would silently not hold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from promptlearn.errors import PromptlearnError
from promptlearn.readout.cloze import find_transform
from promptlearn.readout.registry import Readout, register_readout

if TYPE_CHECKING:
    from promptlearn.readout.masked_lm import MaskedLM


class WarpHead(nn.Module):
    """Hidden states (B, T, H) at ``mask_positions`` (B,) -> class scores (B, C) = transform(h) @ E.T + b.

    ``class_embeddings`` E (C, H) and ``class_bias`` b (C,) train; the transform is the backbone's,
    looked up at every call (so a mode that wraps it, e.g. LoRA on the MLM head, is read through its
    wrapper) and never registered here: its parameters stay the backbone's.
    """

    #: this head is made from the verbalizer's words: a mode owning it still uses a verbalizer
    reads_label_words = True

    def __init__(self, model: MaskedLM):
        super().__init__()
        words = model.label_words
        if words is None:
            raise PromptlearnError("readout=warp starts from the verbalizer's label words: give --verbalizer")
        if words.mask_count > 1:
            raise PromptlearnError(
                "readout=warp needs one-token label words (each becomes one class embedding); "
                f"these are several tokens: {_long_words(model)}. Choose one-token words, or readout=cloze or cls."
            )
        if find_transform(model.backbone) is None:
            raise PromptlearnError(
                f"readout=warp needs the masked-LM head's transform, which promptlearn does not know for "
                f"{type(model.backbone).__name__}; use readout=cloze or cls."
            )
        self.__dict__["backbone"] = model.backbone  # not a submodule: its parameters are the backbone's
        decoder = model.backbone.get_output_embeddings()
        ids = words.table[:, 0]  # (W,)
        rows = decoder.weight.detach()[ids].float()  # (W, H)
        biases = decoder.bias.detach()[ids].float() if decoder.bias is not None else rows.new_zeros(len(ids))
        self.class_embeddings = nn.Parameter(words.per_label(rows.T).T.contiguous())  # (C, H): mean row per label
        self.class_bias = nn.Parameter(words.per_label(biases[None])[0])  # (C,)

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor, mask_positions: torch.Tensor) -> torch.Tensor:
        rows = torch.arange(hidden.size(0), device=hidden.device)
        transformed = find_transform(self.backbone)(hidden[rows, mask_positions])  # (B, H)
        weight = self.class_embeddings.to(transformed.dtype)
        return nn.functional.linear(transformed, weight, self.class_bias.to(transformed.dtype))  # (B, C)


def _long_words(model: MaskedLM) -> str:
    """The multi-token label words, as their tokens (ids without a tokenizer)."""
    words = model.label_words
    long = [row[valid].tolist() for row, valid in zip(words.table, words.valid, strict=True) if valid.sum() > 1]
    if model.tokenizer is not None:
        long = [model.tokenizer.convert_ids_to_tokens(tokens) for tokens in long]
    return ", ".join(str(tokens) for tokens in long)


def warp_head(model: MaskedLM, pooling: str) -> WarpHead:
    """The ``warp`` readout's head; it reads [MASK] whatever the mode's pooling."""
    return WarpHead(model)


register_readout(
    Readout(
        "warp",
        warp_head,
        reads_label_words=True,
        summary="trainable class embeddings at [MASK] that start as the label words' output rows",
    )
)
