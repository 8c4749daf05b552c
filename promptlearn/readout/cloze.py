"""Label-word scores at [MASK] without full-vocabulary logits.

A masked LM's head is ``decoder(transform(hidden))`` with a (V, H) decoder. Scoring only the
verbalizer's W words at the B mask positions costs B x H x W instead of B x T x H x V: we run the
transform on the gathered mask states and multiply by the W decoder rows we need.

Where each family keeps its head is :mod:`promptlearn.backbone.architectures`; a model is read with
its family's head, else with the first head of the table whose modules it has. For a model with
none of them, the top-level module that holds the decoder runs on the B mask states (full
vocabulary, but only at the masks). That is right only when the head lives in one module, so
:meth:`ClozeScorer.verify` compares the scores with the model's own full-vocabulary logits on a
probe input and refuses a mismatch (e.g. a head whose transform sits beside the decoder, as
ModernBERT's would without its table entry).

Modules are looked up at every call, not once: a mode that wraps a head module after the model
is built (e.g. LoRA on ``lm_head.dense``) is scored through its wrapper.
"""

from __future__ import annotations

import logging

import torch
from torch import nn
from transformers.activations import ACT2FN

from promptlearn.backbone.architectures import ACTIVATION, mlm_heads
from promptlearn.errors import PromptlearnError
from promptlearn.readout.registry import Readout, register_readout

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
    """The part of the MLM head before the vocabulary projection, for heads the architecture table knows (else None).

    Its ``steps`` are the backbone's own modules, so their parameters are the head's transform.
    """
    for head in mlm_heads(backbone):
        if all(_attribute(backbone, path) is not None for path in head.paths):
            return _Sequential(*(_step(backbone, step) for step in head.transform))
    return None


def _attribute(module: nn.Module, path: str):
    """``module.a.b`` for ``path`` 'a.b'; None where an attribute is missing."""
    for name in path.split("."):
        module = getattr(module, name, None)
    return module


def _step(backbone: nn.Module, step: str):
    if step.startswith(ACTIVATION):
        return ACT2FN[step.removeprefix(ACTIVATION)]
    return _attribute(backbone, step)


def _find_head_module(backbone: nn.Module) -> nn.Module:
    """The top-level child of ``backbone`` that holds the output embeddings (e.g. ``cls``, ``lm_head``)."""
    decoder = backbone.get_output_embeddings()
    for _, child in backbone.named_children():
        if child is decoder or any(m is decoder for m in child.modules()):
            return child
    raise ValueError(f"{type(backbone).__name__} has no MLM head module holding its output embeddings")


class ClozeScorer:
    """Scores chosen vocabulary ids at the mask positions of a masked LM. Holds no parameters of its own.

    ``sparse_rows``: the decoder rows are looked up with a sparse gradient (only the W rows), for training
    with sparse embedding gradients (:mod:`promptlearn.training.sparse_grads`).
    """

    sparse_rows = False

    def __init__(self, backbone: nn.Module):
        if backbone.get_output_embeddings() is None:
            raise ValueError(f"{type(backbone).__name__} has no output embeddings: load it as a masked LM")
        self.backbone = backbone
        if self.transform is None:
            _find_head_module(backbone)
            logger.info("No fast cloze path for %s: scoring the full vocabulary at [MASK]", type(backbone).__name__)

    @property
    def transform(self) -> _Sequential | None:
        """The head's transform as the backbone holds it now (None: an unknown architecture)."""
        return find_transform(self.backbone)

    def __call__(self, mask_hidden: torch.Tensor, token_ids: torch.Tensor) -> torch.Tensor:
        """``mask_hidden`` (B, H), ``token_ids`` (W,) -> logits (B, W), equal to the full head's."""
        transform = self.transform
        if transform is None:
            return _find_head_module(self.backbone)(mask_hidden[:, None])[:, 0, token_ids]
        hidden = transform(mask_hidden)  # (B, H)
        decoder = self.backbone.get_output_embeddings()
        if type(decoder) is not nn.Linear:  # e.g. wrapped by an adapter: its rows alone are not the projection
            return decoder(hidden)[:, token_ids]
        if self.sparse_rows:
            weight = nn.functional.embedding(token_ids, decoder.weight, sparse=True)  # (W, H)
        else:
            weight = decoder.weight[token_ids]  # (W, H)
        bias = decoder.bias[token_ids] if decoder.bias is not None else None
        return nn.functional.linear(hidden, weight, bias)  # (B, W)

    def vocabulary_logits(self, states: torch.Tensor) -> torch.Tensor:
        """Hidden states (..., H) -> logits over the whole vocabulary (..., V), as the model's own head gives them."""
        transform = self.transform
        if transform is None:
            return _find_head_module(self.backbone)(states)
        return self.backbone.get_output_embeddings()(transform(states))

    @torch.no_grad()
    def verify(self, token_ids: torch.Tensor) -> None:
        """Raise unless these scores equal the model's own logits, on the label words as a probe input.

        One short forward in eval mode (no dropout); the backbone's training flag is restored.
        """
        backbone = self.backbone
        was_training = backbone.training
        backbone.eval()
        try:
            probe = token_ids[None]  # (1, W)
            full = backbone(input_ids=probe).logits[0][:, token_ids]  # (W, W)
            ours = self(backbone.base_model(input_ids=probe).last_hidden_state[0], token_ids)  # (W, W)
        finally:
            backbone.train(was_training)
        # the two paths round differently (a few rows vs the whole projection): allow that, in the model's precision
        relative = max(1e-3, 8 * torch.finfo(full.dtype).eps)
        full, ours = full.float(), ours.float()
        tolerance = relative * max(1.0, full.abs().max().item())
        if not torch.allclose(ours, full, rtol=relative, atol=tolerance):
            gap = (ours - full).abs().max().item()
            raise PromptlearnError(
                f"promptlearn does not know the masked-LM head of {type(backbone).__name__}: its label-word scores "
                f"differ from the model's own logits by up to {gap:.3g} on a probe input, so they would be wrong. "
                "Use a supported architecture (BERT, RoBERTa, DistilBERT, ALBERT, ELECTRA, ModernBERT) or a mode "
                "with a classification head (--mode head or finetune)."
            )


def no_head(model, pooling: str) -> None:
    """The ``cloze`` readout owns no head: the label words score at the mask(s)."""
    return None


register_readout(Readout("cloze", no_head, reads_label_words=True, summary="label words at [MASK]"))
