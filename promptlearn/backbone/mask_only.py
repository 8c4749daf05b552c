"""The last encoder layer computed at [MASK] alone, for readouts that read nothing else.

A cloze readout reads the last hidden state at the mask positions only (one, or one per token of
the longest multi-token label word), yet a full encoder computes every position of its last
layer: queries, attention output and the feed-forward block, all thrown away but those rows.
For BERT-style layers (``attention.self.{query,key,value}``,
``attention.output``, ``feed_forward_chunk``: BERT, RoBERTa, ELECTRA), :func:`install` makes the
last layer compute its query, attention and feed-forward at the mask rows alone; keys and values
still see every token. The mask rows are exactly what the full layer gives (the same modules, the
same mask, the same scaled dot-product attention); the other rows of the layer's output hold
its input unchanged and must not be read. With 2 layers (bert-tiny) this removes about 40 % of
the encoder's work, with 12 about 7 %.

The mask positions reach the layer through :func:`at_mask` around the encoder call; outside
it (or for a layer of another shape, an attention mask that is not a tensor, cross-attention or
a cache) the layer runs whole. Families whose entry in :mod:`promptlearn.backbone.architectures` says
``mask_only_layer`` but whose layer does not have that shape (a transformers version that lays it
out otherwise: 4.x did) get a warning, never a silent switch to the whole layer; others
(DistilBERT, ALBERT, ...) run it whole by design.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import transformers
from torch import nn

from promptlearn.backbone.architectures import architecture

logger = logging.getLogger(__name__)

_POSITIONS = "_promptlearn_mask_positions"
#: layer arguments that make it more than self-attention over its input
_CROSS = ("encoder_hidden_states", "encoder_attention_mask", "past_key_values")


def last_layer(encoder: nn.Module) -> nn.Module | None:
    """The encoder's last layer when it has the BERT layout this module knows, else None."""
    layers = getattr(getattr(encoder, "encoder", None), "layer", None)
    if not isinstance(layers, nn.ModuleList) or not len(layers):
        return None
    layer = layers[-1]
    attention = getattr(getattr(layer, "attention", None), "self", None)
    known = (
        attention is not None
        and all(isinstance(getattr(attention, name, None), nn.Module) for name in ("query", "key", "value"))
        and hasattr(attention, "scaling")
        and getattr(attention, "position_embedding_type", "absolute") == "absolute"
        and hasattr(layer.attention, "output")
        and hasattr(layer, "feed_forward_chunk")
        and not getattr(layer, "is_decoder", False)
    )
    return layer if known else None


def install(encoder: nn.Module) -> bool:
    """Let the encoder's last layer run at the mask rows inside :func:`at_mask`; False if it has no known layout.

    False for a family whose table entry says ``mask_only_layer`` is logged as a warning: it should have applied.
    """
    layer = last_layer(encoder)
    if layer is None:
        facts = architecture(encoder)
        if facts.mask_only_layer:
            logger.warning(
                "The mask-only last layer does not apply to this %r model: its last layer is not laid out as "
                "promptlearn expects under transformers %s, so the whole last layer runs (same scores, slower). "
                "Use the transformers version promptlearn requires (see pyproject.toml).",
                facts.name,
                transformers.__version__,
            )
        return False
    full = layer.forward
    setattr(layer, _POSITIONS, None)

    def forward(hidden_states, attention_mask=None, *args, **kwargs):
        positions = getattr(layer, _POSITIONS)
        cross = [a for a in args if a is not None] + [kwargs.get(k) for k in _CROSS if kwargs.get(k) is not None]
        masked = attention_mask is None or isinstance(attention_mask, torch.Tensor)
        if positions is None or cross or not masked:
            return full(hidden_states, attention_mask, *args, **kwargs)
        return _at_mask(layer, hidden_states, attention_mask, positions)

    layer.forward = forward
    return True


@contextmanager
def at_mask(encoder: nn.Module, positions: torch.Tensor) -> Iterator[None]:
    """Within this block, the last layer of an :func:`install`-ed encoder computes only ``positions`` (B, M)."""
    layer = last_layer(encoder)
    installed = layer is not None and hasattr(layer, _POSITIONS)
    if installed:
        setattr(layer, _POSITIONS, positions)
    try:
        yield
    finally:
        if installed:
            setattr(layer, _POSITIONS, None)


def _at_mask(layer: nn.Module, hidden: torch.Tensor, mask: torch.Tensor | None, positions: torch.Tensor):
    """``hidden`` (B, T, H) with the rows at ``positions`` (B, M) replaced by the layer's output there."""
    attention = layer.attention.self
    batch = hidden.size(0)
    rows = torch.arange(batch, device=hidden.device)[:, None].expand_as(positions)  # (B, M)
    at = hidden[rows, positions]  # (B, M, H)
    heads = (batch, -1, attention.num_attention_heads, attention.attention_head_size)
    query = attention.query(at).view(*heads).transpose(1, 2)  # (B, h, M, d)
    key = attention.key(hidden).view(*heads).transpose(1, 2)  # (B, h, T, d)
    value = attention.value(hidden).view(*heads).transpose(1, 2)
    if mask is not None and mask.size(-2) > 1:
        mask = mask[rows, :, positions].transpose(1, 2)  # the mask rows' own rows: (B, h|1, M, T)
    if mask is not None and mask.is_floating_point():
        mask = mask.to(query.dtype)  # an additive mask, in the dtype attention computes in
    dropout = attention.dropout.p if layer.training else 0.0
    context = nn.functional.scaled_dot_product_attention(
        query, key, value, attn_mask=mask, dropout_p=dropout, scale=attention.scaling
    )  # (B, h, M, d)
    context = context.transpose(1, 2).reshape(batch, positions.size(1), -1)
    out = layer.feed_forward_chunk(layer.attention.output(context, at))  # (B, M, H)
    return hidden.index_put((rows, positions), out)
