"""Label-word scores at [MASK] without full-vocabulary logits.

A masked LM's head is ``decoder(transform(hidden))`` with a (V, H) decoder. Scoring only the
verbalizer's W words at the B mask positions costs B x H x W instead of B x T x H x V: we run the
transform on the gathered mask states and multiply by the W decoder rows we need.

Architectures are recognised by the head modules they have. For an unknown one, the whole head
runs on the B mask states (full vocabulary, but only at the masks) and the label words are picked
from it: correct everywhere, merely slower.
"""

from __future__ import annotations

import logging

import torch
from torch import nn
from transformers.activations import ACT2FN

logger = logging.getLogger(__name__)


class _Sequential(nn.Module):
    """``nn.Sequential`` over modules that stay registered in the backbone (not re-registered here)."""

    def __init__(self, *steps):
        super().__init__()
        self.steps = steps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for step in self.steps:
            x = step(x)
        return x


def find_transform(backbone: nn.Module) -> _Sequential | None:
    """The part of the MLM head before the vocabulary projection, for architectures we know (else None).

    Its ``steps`` are the backbone's own modules, so their parameters are the head's transform.
    """
    cls = getattr(backbone, "cls", None)
    if cls is not None and hasattr(getattr(cls, "predictions", None), "transform"):  # BERT family
        return _Sequential(cls.predictions.transform)
    head = getattr(backbone, "lm_head", None)
    if head is not None and hasattr(head, "dense") and hasattr(head, "layer_norm"):  # RoBERTa family
        return _Sequential(head.dense, ACT2FN["gelu"], head.layer_norm)
    if hasattr(backbone, "vocab_transform"):  # DistilBERT
        return _Sequential(backbone.vocab_transform, backbone.activation, backbone.vocab_layer_norm)
    predictions = getattr(backbone, "predictions", None)
    if predictions is not None and hasattr(predictions, "LayerNorm") and hasattr(predictions, "dense"):  # ALBERT
        return _Sequential(predictions.dense, predictions.activation, predictions.LayerNorm)
    if hasattr(backbone, "generator_predictions"):  # ELECTRA generator
        return _Sequential(backbone.generator_predictions)
    return None


def _find_head_module(backbone: nn.Module) -> nn.Module:
    """The top-level child of ``backbone`` that holds the output embeddings (e.g. ``cls``, ``lm_head``)."""
    decoder = backbone.get_output_embeddings()
    for _, child in backbone.named_children():
        if child is decoder or any(m is decoder for m in child.modules()):
            return child
    raise ValueError(f"{type(backbone).__name__} has no MLM head module holding its output embeddings")


class ClozeScorer:
    """Scores chosen vocabulary ids at the mask positions of a masked LM. Holds no parameters of its own."""

    def __init__(self, backbone: nn.Module):
        self.decoder = backbone.get_output_embeddings()
        if self.decoder is None:
            raise ValueError(f"{type(backbone).__name__} has no output embeddings: load it as a masked LM")
        self.transform = find_transform(backbone)
        self.head = None
        if self.transform is None:
            self.head = _find_head_module(backbone)
            logger.info("No fast cloze path for %s: scoring the full vocabulary at [MASK]", type(backbone).__name__)

    def __call__(self, mask_hidden: torch.Tensor, token_ids: torch.Tensor) -> torch.Tensor:
        """``mask_hidden`` (B, H), ``token_ids`` (W,) -> logits (B, W), equal to the full head's."""
        if self.head is not None:
            return self.head(mask_hidden[:, None])[:, 0, token_ids]
        hidden = self.transform(mask_hidden)  # (B, H)
        weight = self.decoder.weight[token_ids]  # (W, H)
        bias = self.decoder.bias[token_ids] if self.decoder.bias is not None else None
        return nn.functional.linear(hidden, weight, bias)  # (B, W)
