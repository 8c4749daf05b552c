"""Bottleneck adapters (Houlsby et al., ICML 2019) hooked into the sublayers of BERT-family encoders.

Not a mode: :mod:`promptlearn.modes.adapter` builds on it. An adapter maps a sublayer's output h
(B, T, H) to ``h + up(f(down(h)))`` with ``down``: H -> H/reduction and ``up`` zero-initialised, so
a fresh adapter is the identity. It runs on the output projection of a sublayer, before that
sublayer's residual connection and LayerNorm, through a forward hook: the backbone's modules and
parameter names stay as they are.

``houlsby`` adapts the attention output and the feed-forward output of every layer, ``pfeiffer``
(Pfeiffer et al., EACL 2021) the feed-forward output only.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.activations import ACT2FN

from promptlearn.errors import PromptlearnError

PLACEMENTS = ("houlsby", "pfeiffer")

#: (attention output projection, feed-forward output projection), relative to one transformer layer
SUBLAYER_OUTPUTS = (
    ("attention.output.dense", "output.dense"),  # BERT, RoBERTa, ELECTRA, XLM-R, ...
    ("attention.out_lin", "ffn.lin2"),  # DistilBERT
    ("attention.dense", "ffn_output"),  # ALBERT (one layer shared by all depths)
)


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

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden + self.up(self.act(self.down(hidden)))


def sublayer_outputs(encoder: nn.Module, placement: str) -> list[nn.Linear]:
    """The output projections to adapt, bottom layer first (attention before feed-forward in a layer)."""
    for attention, feed_forward in SUBLAYER_OUTPUTS:
        layers = [m for m in encoder.modules() if _is_linear(m, attention) and _is_linear(m, feed_forward)]
        if layers:
            paths = (attention, feed_forward) if placement == "houlsby" else (feed_forward,)
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


def hook(linear: nn.Linear, adapter: Adapter) -> None:
    """Make ``linear`` return ``adapter(its output)``."""
    linear.register_forward_hook(lambda _module, _inputs, output: adapter(output))
