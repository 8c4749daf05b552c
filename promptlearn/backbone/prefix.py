"""Deep prompts: per-layer key/value prefixes concatenated inside each self-attention.

P-Tuning v2 and PEFT hand the prefix to BERT as ``past_key_values``. That shifts the real tokens'
position ids by the prefix length and depends on the cache API, which transformers has changed
several times. We do what the adapters library does instead: each self-attention prepends its
layer's prefix keys/values to the real ones and widens the attention mask, so the embeddings,
position ids and the rest of the layer never see the prefix.

The hook is transformers' attention interface. :func:`install` points the self-attention modules
of one backbone at the registered ``promptlearn_prefix`` function (through a per-module stand-in
for their config; the model's own config, and every other model, are untouched). That function
takes this call's prefixes from the ``prefix_key_values`` keyword argument, which transformers
passes from the encoder call down to the attention function, and hands the widened keys, values
and mask to the implementation the model's config names (SDPA by default, or eager). A call
without the argument runs exactly the original attention. This needs transformers 5: 4.x's BERT
self-attention has no ``config`` and takes no attention function (pyproject.toml's floor, tested by .ci/run).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import torch
from torch import nn
from transformers import AttentionInterface
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from promptlearn.backbone.architectures import architecture, deep_prompt_families
from promptlearn.errors import PromptlearnError

PREFIX_ATTENTION = "promptlearn_prefix"
PREFIX_KWARG = "prefix_key_values"
#: attention implementations whose masks we know how to widen: boolean (SDPA) or additive (eager)
INNER_ATTENTIONS = ("sdpa", "eager")


class _PrefixedConfig:
    """Stands in for one self-attention's config: routes it to the prefix attention, knows its layer.

    Every other attribute reads through to the model's config, so the inner implementation follows
    ``set_attn_implementation`` on the model.
    """

    _attn_implementation = PREFIX_ATTENTION

    def __init__(self, config, layer: int):
        self.base = config
        self.layer = layer

    def __getattr__(self, name: str):
        try:
            base = self.__dict__["base"]
        except KeyError:  # during unpickling / copying, before __init__ ran
            raise AttributeError(name) from None
        return getattr(base, name)


def _widen_mask(mask: torch.Tensor | None, length: int) -> torch.Tensor | None:
    """Let every query attend to ``length`` prefix slots in front of the keys: (..., T) -> (..., P + T)."""
    if mask is None:  # no padding: everything, prefix included, is attended to
        return None
    shape = (*mask.shape[:-1], length)
    # boolean (SDPA) mask: True attends; additive (eager): 0 does. Not new_full(shape, True): the ONNX
    # exporter's tracer cannot take a boolean fill value
    prefix = mask.new_ones(shape) if mask.dtype == torch.bool else mask.new_zeros(shape)
    return torch.cat([prefix, mask], dim=-1)


def _inner_attention(module: nn.Module, implementation: str) -> Callable:
    if implementation not in INNER_ATTENTIONS:
        raise PromptlearnError(
            f"Deep prompts work with attn_implementation {' or '.join(INNER_ATTENTIONS)}, "
            f"not {implementation!r}: load the model with attn_implementation='sdpa' (the default)"
        )
    if implementation == "eager":  # each modeling file defines its own eager function
        return sys.modules[type(module).__module__].eager_attention_forward
    return ALL_ATTENTION_FUNCTIONS[implementation]


def prefix_attention(module, query, key, value, attention_mask, prefix_key_values=None, prefix_capture=None, **kwargs):
    """Attention with this layer's prefix in front of the keys/values.

    ``query`` (B, heads, T, d), ``key``/``value`` (B, heads, T, d); ``prefix_key_values``: one
    (keys, values) pair per layer, each (B, heads, P, d), or None for plain attention.
    ``prefix_capture``: a list that collects each layer's own (keys, values), for initialisation.
    """
    config = module.config
    inner = _inner_attention(module, config.base._attn_implementation)
    if prefix_capture is not None:
        prefix_capture.append((key.detach(), value.detach()))
    if prefix_key_values is not None:
        prefix_key, prefix_value = prefix_key_values[config.layer]
        key = torch.cat([prefix_key.to(key.dtype), key], dim=2)  # (B, heads, P + T, d)
        value = torch.cat([prefix_value.to(value.dtype), value], dim=2)
        attention_mask = _widen_mask(attention_mask, prefix_key.size(2))
    return inner(module, query, key, value, attention_mask, **kwargs)


AttentionInterface.register(PREFIX_ATTENTION, prefix_attention)


def self_attentions(backbone: nn.Module) -> list[nn.Module]:
    """The self-attention module of each layer of a supported masked LM, in layer order
    (where each family keeps it: :mod:`promptlearn.backbone.architectures`)."""
    facts = architecture(backbone)
    if facts.self_attention is None or getattr(backbone.config, "is_decoder", False):
        raise PromptlearnError(
            f"Deep prompts (ptuning_v2) do not support {facts.name!r} models; supported: "
            f"{', '.join(deep_prompt_families())} (encoders with one self-attention per layer)"
        )
    layers_path, attention_path = facts.self_attention
    layers = backbone.base_model.get_submodule(layers_path)
    return [layer.get_submodule(attention_path) for layer in layers]


def install(backbone: nn.Module) -> None:
    """Route ``backbone``'s self-attentions through :func:`prefix_attention` (idempotent)."""
    _inner_attention(backbone, backbone.config._attn_implementation)  # fail now, not mid-training
    for layer, attention in enumerate(self_attentions(backbone)):
        if not isinstance(attention.config, _PrefixedConfig):
            attention.config = _PrefixedConfig(attention.config, layer)


@torch.no_grad()
def real_key_values(backbone: nn.Module, embeds: torch.Tensor) -> torch.Tensor:
    """Keys and values the (installed) backbone's layers compute for ``embeds`` (P, H) as one sequence.

    Returns (P, L * 2 * heads * d), the layout of :class:`PrefixEncoder`'s unprojected prefix:
    starting from real tokens' activations trains better than random prefixes (Li & Liang, 2021, §7.2).
    """
    captured: list[tuple[torch.Tensor, torch.Tensor]] = []
    was_training = backbone.training
    backbone.eval()  # no dropout in the starting point
    backbone.base_model(inputs_embeds=embeds[None], prefix_capture=captured)
    backbone.train(was_training)
    kv = torch.stack([torch.stack([key[0], value[0]]) for key, value in captured])  # (L, 2, heads, P, d)
    return kv.permute(3, 0, 1, 2, 4).reshape(embeds.size(0), -1).float()


class PrefixEncoder(nn.Module):
    """Trainable prefixes: ``forward(batch_size)`` -> per layer (keys, values), each (B, heads, P, d).

    ``initial`` (P, W) is the starting parameter. Without projection it is the prefix itself,
    W = L * 2 * heads * d. With ``projection_hidden`` (prefix tuning's reparameterization) it holds
    P input vectors that an MLP ``W -> projection_hidden -> L * 2 * heads * d`` turns into the prefix.
    """

    def __init__(
        self,
        num_layers: int,
        num_heads: int,
        head_dim: int,
        initial: torch.Tensor,
        projection_hidden: int | None = None,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.shape = (initial.size(0), num_layers, 2, num_heads, head_dim)
        self.prefix = nn.Parameter(initial.detach().clone())  # (P, W)
        self.mlp = None
        if projection_hidden:
            width = num_layers * 2 * num_heads * head_dim
            self.mlp = nn.Sequential(
                nn.Linear(initial.size(1), projection_hidden), nn.Tanh(), nn.Linear(projection_hidden, width)
            )
        self.dropout = nn.Dropout(dropout)

    def forward(self, batch_size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        flat = self.mlp(self.prefix) if self.mlp is not None else self.prefix  # (P, L * 2 * heads * d)
        kv = self.dropout(flat).view(self.shape).permute(1, 2, 3, 0, 4)  # (L, 2, heads, P, d)
        kv = kv.unsqueeze(2).expand(-1, -1, batch_size, -1, -1, -1)  # (L, 2, B, heads, P, d)
        return [(layer[0], layer[1]) for layer in kv]
