"""Layer-wise fine-tuning (``train_layers=top:N``) and layer-wise learning-rate decay (``layer_lr_decay``).

Not a mode: options and parameter grouping shared by ``pet`` and ``finetune``. Every parameter has
a depth: 0 for the embeddings (and an MLM decoder tied to them), i + 1 for transformer layer i,
L + 1 for whatever sits above the L layers (pooler, MLM head transform and bias). A parameter
outside the layers that layer 0 already reads (DeBERTa's relative-position embeddings, which
every layer reads) is as deep as layer 0, the lowest layer it changes: it trains with the whole
stack only, at layer 0's rate. Where each family keeps these is :mod:`promptlearn.backbone.architectures`.
``top:N`` trains depths L - N + 1 and up; with decay d the parameters at depth k train at
lr * d ** (L - min(k, L)): the top layer and what is above it at lr, the embeddings lowest, at
lr * d ** L (Clark et al., ELECTRA, ICLR 2020; Sun et al., "How to Fine-Tune BERT for Text
Classification?", 2019). ALBERT runs one shared layer at every depth, so it is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from torch import nn

from promptlearn.backbone.architectures import Architecture, architecture
from promptlearn.errors import PromptlearnError

ALL_LAYERS = "all"
_TOP = re.compile(r"top:(\d+)")


@dataclass
class LayerwiseOptions:
    """Which layers train, and at what rate by depth (see the module's docstring)."""

    train_layers: str = field(
        default=ALL_LAYERS, metadata={"help": "'all' or 'top:N' (only the top N layers and what is above them train)."}
    )
    layer_lr_decay: float = field(
        default=1.0,
        metadata={
            "help": "1.0 (off) or d in (0, 1): layer k from the top trains at lr * d ** k, the embeddings lowest."
        },
    )

    def check_layerwise(self) -> None:
        if self.train_layers != ALL_LAYERS and not (_TOP.fullmatch(self.train_layers) and self.top_layers > 0):
            raise PromptlearnError(f"train_layers must be 'all' or 'top:N' with N >= 1, got {self.train_layers!r}")
        if not 0 < self.layer_lr_decay <= 1:
            raise PromptlearnError(f"layer_lr_decay must be in (0, 1] (1 = off), got {self.layer_lr_decay!r}")

    @property
    def top_layers(self) -> int | None:
        """N of ``top:N``; None for all layers."""
        match = _TOP.fullmatch(self.train_layers)
        return int(match.group(1)) if match else None

    @property
    def layerwise(self) -> bool:
        return self.train_layers != ALL_LAYERS or self.layer_lr_decay != 1.0


def num_layers(model) -> int:
    return model.backbone.config.num_hidden_layers


def depth_groups(
    named: Iterable[tuple[str, nn.Parameter]], model, options: LayerwiseOptions, main: str = "model"
) -> dict[str, list[nn.Parameter]]:
    """The trained parameters of ``model`` by group: ``main`` for the top layer and above (and,
    without decay, for every trained layer), ``layer_i`` below it and ``embeddings`` when decaying."""
    named = list(named)
    layers = num_layers(model)
    facts = architecture(model.backbone)
    found = {int(m.group(1)) for name, _ in named if (m := facts.layer.search(name))}
    if facts.shared_layers or found != set(range(layers)):
        owner = named[0][0].split(".")[0] if named else "model"
        raise PromptlearnError(
            f"train_layers / layer_lr_decay: cannot tell the {layers} layers of {owner!r} apart "
            "(ALBERT, for one, shares a single layer across depths)"
        )
    if (options.top_layers or 0) > layers:
        raise PromptlearnError(f"train_layers={options.train_layers}: the model has only {layers} layers")
    lowest = 0 if options.top_layers is None else max(0, layers - options.top_layers + 1)
    groups: dict[str, list[nn.Parameter]] = {main: []}
    for name, param in named:
        depth = _depth(name, layers, facts)
        if depth < lowest:
            continue
        key = main if options.layer_lr_decay == 1.0 or depth >= layers else _group(depth)
        groups.setdefault(key, []).append(param)
    return groups


def depth_rates(learning_rate: float, layers: int, decay: float, main: str = "model") -> dict[str, float]:
    """Learning rate of every group :func:`depth_groups` may make, main group first."""
    rates = {main: learning_rate}
    if decay != 1.0:
        rates |= {_group(depth): learning_rate * decay ** (layers - depth) for depth in range(layers - 1, -1, -1)}
    return rates


def _depth(name: str, layers: int, facts: Architecture) -> int:
    match = facts.layer.search(name)
    if match:
        return int(match.group(1)) + 1
    if any(fragment in name for fragment in facts.first_layer):
        return 1
    return 0 if facts.embeddings in name else layers + 1


def _group(depth: int) -> str:
    return "embeddings" if depth == 0 else f"layer_{depth - 1}"
