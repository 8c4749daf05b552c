"""Bottleneck adapters hooked into the sublayers of BERT-family encoders.

Not a mode: :mod:`promptlearn.modes.adapter` builds on it. An adapter maps h (B, T, H) to
``h + up(f(down(h)))`` with ``down``: H -> H/reduction and ``up`` zero-initialised, so a fresh
adapter is the identity. It runs through forward hooks: the backbone's modules and parameter
names stay as they are. A sublayer computes ``LayerNorm(s)`` with ``s = x + dropout(dense(...))``,
x its input.

- ``houlsby`` (Houlsby et al., ICML 2019): on the output projection of the attention and of the
  feed-forward block of every layer, before that sublayer's residual connection and LayerNorm.
- ``pfeiffer`` (Pfeiffer et al., EACL 2021; AdapterHub's ``SeqBnConfig``): one adapter per layer,
  after the feed-forward block, reading its LayerNorm's output: ``LayerNorm(s + up(f(down(LayerNorm(s)))))``
  with the layer's own LayerNorm both times (AdapterHub's ``original_ln_before``,
  ``residual_before_ln`` and ``original_ln_after``), hooked on that LayerNorm.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.activations import ACT2FN

from promptlearn.backbone.architectures import sublayer_layouts
from promptlearn.errors import PromptlearnError

PLACEMENTS = ("houlsby", "pfeiffer")


class Adapter(nn.Module):
    """h (..., H) -> h + up(f(down(h))); ``up`` starts at zero, so the adapter starts as the identity."""

    def __init__(self, hidden_size: int, reduction_factor: int, non_linearity: str):
        super().__init__()
        bottleneck = max(1, hidden_size // reduction_factor)
        self.down = nn.Linear(hidden_size, bottleneck)
        self.act = ACT2FN[non_linearity]
        self.up = nn.Linear(bottleneck, hidden_size)
        nn.init.normal_(self.down.weight, std=1e-2)
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def delta(self, hidden: torch.Tensor) -> torch.Tensor:
        """What the adapter adds: up(f(down(h))) (..., H)."""
        return self.up(self.act(self.down(hidden)))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden + self.delta(hidden)


def adapter_sites(encoder: nn.Module, placement: str) -> list[nn.Module]:
    """The modules to hook, bottom layer first: for ``houlsby`` the output projections (attention
    before feed-forward in a layer), for ``pfeiffer`` the LayerNorm closing each feed-forward block.

    The layers are the modules laid out as the family's table entry says (or, for a family without
    one, as any entry of :mod:`promptlearn.backbone.architectures` says)."""
    for sublayers in sublayer_layouts(encoder):
        attention, feed_forward = sublayers.attention, sublayers.feed_forward
        layers = [m for m in encoder.modules() if _is_linear(m, attention) and _is_linear(m, feed_forward)]
        if layers:
            paths = (attention, feed_forward) if placement == "houlsby" else (sublayers.norm,)
            return [layer.get_submodule(path) for layer in layers for path in paths]
    raise PromptlearnError(
        f"adapter: unknown layer layout in {type(encoder).__name__}; adapters know BERT, RoBERTa, "
        "DistilBERT, ALBERT and ELECTRA layers"
    )


def _is_linear(module: nn.Module, path: str) -> bool:
    try:
        return isinstance(module.get_submodule(path), nn.Linear)
    except AttributeError:
        return False


def hook(site: nn.Module, adapter: Adapter, placement: str) -> None:
    """``houlsby``: make the projection ``site`` return ``adapter(its output)``. ``pfeiffer``: make
    the LayerNorm ``site``, given s, return ``LayerNorm(s + adapter.delta(LayerNorm(s)))``
    (``site.forward`` runs it again without re-entering this hook)."""
    if placement == "houlsby":
        site.register_forward_hook(lambda _module, _inputs, output: adapter(output))
    else:
        site.register_forward_hook(lambda norm, inputs, output: norm.forward(inputs[0] + adapter.delta(output)))
