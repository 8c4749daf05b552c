"""Per-architecture facts, keyed by ``config.model_type``: where each encoder family keeps its
embeddings, its layers and the parameters shared across them, for depth-aware code (layer-wise
training and learning-rate decay, :mod:`promptlearn.backbone.layerwise`).

Parameter names are matched by fragments, so one entry serves a family's every head. A family
not listed here is read with the BERT layout; :func:`promptlearn.backbone.layerwise.depth_groups`
still refuses a model whose layers it cannot find.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Architecture:
    """``embeddings``: a fragment of every input-embedding parameter's name (depth 0).
    ``layer``: a regex whose group 1 is the transformer layer's index in a parameter name.
    ``first_layer``: fragments of parameters outside the layer list that layer 0 already reads:
    DeBERTa's relative-position embeddings (every layer's attention reads them) and their
    LayerNorm, DeBERTa-v2's convolution beside layer 0.
    ``shared_layers``: one set of layer weights runs at every depth (ALBERT), so depths have no
    parameters of their own."""

    embeddings: str = "embeddings."
    layer: re.Pattern = re.compile(r"(?:^|\.)layer\.(\d+)\.")
    first_layer: tuple[str, ...] = ()
    shared_layers: bool = False


BERT_LAYOUT = Architecture()

ARCHITECTURES = {
    "bert": BERT_LAYOUT,
    "roberta": BERT_LAYOUT,
    "xlm-roberta": BERT_LAYOUT,
    "camembert": BERT_LAYOUT,
    "electra": BERT_LAYOUT,
    "ernie": BERT_LAYOUT,
    "distilbert": BERT_LAYOUT,  # transformer.layer.N
    "albert": Architecture(shared_layers=True),
    "deberta": Architecture(first_layer=("encoder.rel_embeddings.",)),
    "deberta-v2": Architecture(first_layer=("encoder.rel_embeddings.", "encoder.LayerNorm.", "encoder.conv.")),
}


def architecture(model_type: str) -> Architecture:
    """The facts for ``model_type``; the BERT layout for a family not in the table."""
    return ARCHITECTURES.get(model_type, BERT_LAYOUT)
