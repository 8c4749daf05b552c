"""Which base model an artifact was trained on: a fingerprint, and the check that refuses another model.

Trained tensors (soft prompts, prefixes, LoRA matrices, heads) only mean something on the base
model they were trained with, yet they have the same shape on any model of the same size. So an
artifact records its base model's fingerprint: its sizes, a hash of its configuration and a hash
of its word-embedding matrix. The sizes must match (tensors would not fit otherwise); a hash that
differs is refused too, unless the caller allows another base (``--allow-other-base``).
The base model's *name* is not compared: the same model is often reached by different paths.
"""

from __future__ import annotations

import hashlib
import json

import torch
from torch import nn

from promptlearn.errors import PromptlearnError

#: fingerprint keys that are sizes: a mismatch means the tensors cannot fit
SIZES = ("hidden_size", "embedding_size", "vocab_size", "num_layers")
#: fingerprint keys that identify the weights (and what they hash): a mismatch means another model of the same shape
HASHES = {"config_hash": "configuration", "embedding_hash": "word embeddings"}
# config keys that describe how a checkpoint was saved or run, not the network itself
_BOOKKEEPING = {"_name_or_path", "transformers_version", "dtype", "torch_dtype", "architectures", "use_cache"}


def base_fingerprint(backbone: nn.Module) -> dict[str, str]:
    """Sizes and hashes (16 hex digits) of a masked LM, all as strings (as safetensors metadata stores them).

    ``embedding_size`` is the word embeddings' width, which is what prompts have; it differs from
    ``hidden_size`` on ALBERT and ELECTRA.
    """
    config = backbone.config
    scalars = {
        k: v
        for k, v in config.to_dict().items()
        if k not in _BOOKKEEPING and isinstance(v, str | int | float | bool | type(None))
    }
    embeddings = backbone.get_input_embeddings()
    weight = embeddings.weight.detach().to("cpu", torch.float32).contiguous()
    return {
        "hidden_size": str(config.hidden_size),
        "embedding_size": str(embeddings.embedding_dim),
        "vocab_size": str(config.vocab_size),
        "num_layers": str(config.num_hidden_layers),
        "config_hash": _digest(json.dumps(scalars, sort_keys=True).encode()),
        "embedding_hash": _digest(weight.numpy().tobytes()),
    }


def size_mismatches(stored: dict[str, str], own: dict[str, str]) -> list[str]:
    """``"key stored (model: own)"`` for each size the artifact records and the model does not share."""
    return [f"{key} {stored[key]} (model: {own[key]})" for key in SIZES if stored.get(key) not in (None, own[key])]


def check_same_base(
    stored: dict[str, str],
    own: dict[str, str],
    origin: str,
    allow_other_base: bool = False,
    remedy: str = "pass --allow-other-base to load them anyway",
) -> None:
    """Raise unless the hashes in ``stored`` (an artifact's metadata) equal ``own`` (the model's fingerprint).

    Keys an older artifact lacks are not compared. ``allow_other_base`` skips the check; ``remedy``
    ends the message (what the user can do besides using the right model).
    """
    if allow_other_base:
        return
    for key, what in HASHES.items():
        if stored.get(key) not in (None, own[key]):
            raise PromptlearnError(
                f"{origin} was trained on {stored.get('base_model', '?')!r}, whose {what} differ from those of the "
                f"base model loaded now ({key} {stored[key]} vs {own[key]}): trained prompts and weights only work "
                f"on the model they were trained with. Use that model, or {remedy}."
            )


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]
