"""Unpadded batches: a batch's sequences packed into one row, each attending to itself alone.

A padded batch computes every layer at B × T positions, T the batch's longest; packed, the encoder's
linear layers and feed-forward blocks run at the L = sum of lengths real tokens only. The sequences
go end to end into one row (1, L); a block-diagonal attention mask keeps each sequence's tokens
attending to that sequence only, and position ids restart at 0 for each, so every real token's
hidden state is what the padded batch gives it (to float rounding; tests/backbone/test_packing.py).
On CPU the mask is a dense (L, L) boolean read by scaled dot-product attention: attention itself
then costs L² rather than B × T², which is why packing pays where padding is large and the
feed-forward dominates, and not on length-grouped batches of short inputs (docs/benchmarks.md).

:class:`Packing` is made from a padded batch's attention mask and moves tensors both ways; the
model (:meth:`promptlearn.model.prompt_model.PromptModel.hidden_states`) packs the embedded inputs,
runs the encoder once on the packed row and unpacks its states, so readouts see the usual (B, T, H).
Whether an encoder computes a packed row exactly is checked on a probe (:func:`check_encoder`): it must
take ``position_ids`` and a 4-D attention mask, which BERT-style encoders do.
"""

from __future__ import annotations

import torch
from torch import nn

from promptlearn.errors import PromptlearnError


class Packing:
    """The packed layout of a padded batch whose ``attention_mask`` (B, T) marks the real tokens."""

    def __init__(self, attention_mask: torch.Tensor):
        self.keep = attention_mask.bool()  # (B, T)
        batch, length = self.keep.shape
        self.shape = (batch, length)
        # where each (row, position) lands in the packed row (meaningless at padding)
        self.index = self.keep.flatten().cumsum(0).view(batch, length) - 1  # (B, T)
        lengths = self.keep.sum(dim=1)
        sequence = torch.repeat_interleave(torch.arange(batch, device=lengths.device), lengths)  # (L,)
        self.attention_mask = (sequence[:, None] == sequence[None, :])[None, None]  # (1, 1, L, L), True: attend
        self.position_ids = (self.keep.cumsum(dim=1) - 1)[self.keep][None]  # (1, L)

    def pack(self, values: torch.Tensor) -> torch.Tensor:
        """Per-token ``values`` (B, T, ...) -> the real tokens' (1, L, ...)."""
        return values[self.keep][None]

    def positions(self, positions: torch.Tensor) -> torch.Tensor:
        """Positions (B, M) in the padded batch -> the same tokens' positions (1, B·M) in the packed row."""
        rows = torch.arange(positions.size(0), device=positions.device)[:, None]
        return self.index[rows, positions].reshape(1, -1)

    def unpack(self, packed: torch.Tensor) -> torch.Tensor:
        """The packed row's states (1, L, H) -> (B, T, H), zero at padding."""
        out = packed.new_zeros(*self.shape, packed.size(-1))
        return out.masked_scatter(self.keep[..., None], packed[0])

    def encoder_inputs(self, embeds: torch.Tensor, segments: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Keyword arguments of the encoder call for the packed row, from embedded inputs (B, T, E)."""
        inputs = {"inputs_embeds": self.pack(embeds), "attention_mask": self.attention_mask}
        inputs["position_ids"] = self.position_ids
        if segments is not None:
            inputs["token_type_ids"] = self.pack(segments)
        return inputs


@torch.no_grad()
def check_encoder(encoder: nn.Module, embedding_size: int, segments: bool) -> None:
    """Refuse an encoder whose packed row differs from its padded batch (on a probe of two sequences, eval mode)."""
    was_training = encoder.training
    encoder.eval()
    parameter = next(encoder.parameters())
    embeds = torch.randn(2, 5, embedding_size, generator=torch.Generator().manual_seed(0))
    embeds = embeds.to(parameter.device, parameter.dtype)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], device=parameter.device)
    types = torch.zeros_like(mask) if segments else None
    packing = Packing(mask)
    why = None
    try:
        padded = encoder(
            inputs_embeds=embeds, attention_mask=mask, **({} if types is None else {"token_type_ids": types})
        )
        packed = encoder(**packing.encoder_inputs(embeds, types))
        real = mask.bool()
        gap = (packing.unpack(packed.last_hidden_state) - padded.last_hidden_state)[real].abs().max().item()
        if not gap <= 1e-4 * max(1.0, padded.last_hidden_state[real].abs().max().item()):
            why = f"its packed states differ from the padded ones by up to {gap:.3g}"
    except (TypeError, ValueError, RuntimeError) as err:
        why = f"it does not take a packed row ({type(err).__name__}: {err})"
    finally:
        encoder.train(was_training)
    if why is not None:
        raise PromptlearnError(
            f"--packed cannot train this {type(encoder).__name__}: {why}. Train without --packed (padded "
            "batches give the same loss); packing needs an encoder that numbers positions from 0 and takes "
            "position_ids and a 4-D attention mask (BERT, DistilBERT, ELECTRA)."
        )
