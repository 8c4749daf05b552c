"""The pretrained-prompt artifact: one (n, E) prompt tensor plus what it needs to be reused safely.

An artifact is a single safetensors file (``prompt.safetensors``, tensor ``prompt``) whose
metadata records the format version, the base model (name as given, and its fingerprint:
sizes, a hash of its config and a hash of its word embeddings, see :mod:`promptlearn.backbone.fingerprint`),
prompt length, pretraining format, label words, steps and held-out accuracy. A soft prompt only
means something to the embeddings it was trained against: it has the same shape (n, E), E the word
embeddings' width, on every model with that width, so a shape check is not enough. Loading
therefore compares the hashes, not only the shape, and refuses a mismatch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from promptlearn.backbone.fingerprint import base_fingerprint, check_same_base
from promptlearn.backbone.soft_prompts import PROMPT_FILE
from promptlearn.errors import PromptlearnError
from promptlearn.outputs import write_safetensors_atomic

ARTIFACT_VERSION = 1
_TENSOR = "prompt"


@dataclass(frozen=True)
class PromptArtifact:
    """A prompt tensor (n, E) and its metadata (all values are strings, as safetensors stores them)."""

    prompt: torch.Tensor
    metadata: dict[str, str]

    @property
    def prompt_length(self) -> int:
        return self.prompt.shape[0]

    def save(self, path: str | Path) -> Path:
        """Write atomically to ``path`` (a folder gets ``prompt.safetensors`` inside)."""
        path = artifact_file(path)
        write_safetensors_atomic(
            path, {_TENSOR: self.prompt.detach().to("cpu", torch.float32).contiguous()}, metadata=self.metadata
        )
        return path

    @classmethod
    def load(cls, path: str | Path) -> PromptArtifact:
        """Read an artifact file, or the ``prompt.safetensors`` inside a folder."""
        path = artifact_file(path)
        if not path.is_file():
            raise PromptlearnError(
                f"Prompt artifact {path} does not exist; make one with `promptlearn pretrain-prompt ... --output DIR`"
            )
        try:
            with safe_open(path, "pt") as handle:
                metadata = handle.metadata() or {}
                if _TENSOR not in handle.keys():  # noqa: SIM118 (safe_open is not a dict)
                    raise PromptlearnError(f"{path} holds no {_TENSOR!r} tensor: it is not a prompt artifact")
                prompt = handle.get_tensor(_TENSOR)
        except SafetensorError as err:
            raise PromptlearnError(f"{path} is not a readable safetensors file: {err}") from err
        version = metadata.get("artifact_version")
        if version != str(ARTIFACT_VERSION):
            raise PromptlearnError(
                f"{path} has prompt-artifact version {version!r}; this promptlearn reads version {ARTIFACT_VERSION}"
            )
        if prompt.dim() != 2:
            raise PromptlearnError(f"{path}: prompt shape must be (length, width), got {tuple(prompt.shape)}")
        return cls(prompt, metadata)

    def check_compatible(self, backbone: torch.nn.Module, origin: str = "The prompt artifact") -> None:
        """Raise unless this prompt was pretrained on ``backbone`` (same embedding width, config and embeddings)."""
        own = base_fingerprint(backbone)
        width = own["embedding_size"]
        if self.prompt.shape[1] != int(width):
            trained_on = self.metadata.get("base_model", "?")
            here = getattr(backbone.config, "name_or_path", "") or type(backbone).__name__
            raise PromptlearnError(
                f"{origin} was pretrained on {trained_on!r} with word-embedding width {self.prompt.shape[1]}, but "
                f"{here!r} has width {width}. Pretrain one for this model with `promptlearn pretrain-prompt`."
            )
        check_same_base(self.metadata, own, origin, remedy="pretrain one for it with `promptlearn pretrain-prompt`")


def artifact_metadata(backbone: torch.nn.Module, base_model: str, **fields) -> dict[str, str]:
    """Metadata for a new artifact: version, base-model fingerprint, and ``fields`` (lists/dicts as JSON)."""
    metadata = {"artifact_version": str(ARTIFACT_VERSION), "base_model": base_model, **base_fingerprint(backbone)}
    for key, value in fields.items():
        metadata[key] = value if isinstance(value, str) else json.dumps(value)
    return metadata


def artifact_file(path: str | Path) -> Path:
    """The artifact file named by ``path``: the path itself, or ``prompt.safetensors`` inside a folder."""
    path = Path(path)
    return path / PROMPT_FILE if path.is_dir() or not path.suffix else path
