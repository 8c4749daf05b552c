"""Soft prompts, shared by the prompt modes: where they go, what they start from, how a saved one loads.

- :func:`soft_pattern` gives the pattern its prompt slots (``[SOFT:n]`` in front when it has none);
- :func:`initial_prompt` builds the starting (n, E) tensor from an ``--init`` spec;
- :func:`load_prompt` reads a saved prompt (a run folder, a .safetensors or a .pt file);
- :func:`insert_prompt` writes the prompt rows into the input embeddings at the soft positions.

Modes compose these functions; none of them knows a mode.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

from promptlearn.backbone.run_tensors import check_run_spec, run_tensors
from promptlearn.errors import PromptlearnError
from promptlearn.prompt.pattern import Pattern

#: name of the (n, E) prompt tensor in a run folder's weights (``mode.prompt`` of the PromptModel)
PROMPT_KEY = "mode.prompt"
DEFAULT_PROMPT_LENGTH = 20
INITS = ("random", "vocab", "text:WORDS", "file:PATH", "run:PATH[#TASK]")
_WEIGHTS = "weights.safetensors"
#: the prompt file inside a ``promptlearn pretrain-prompt`` folder (promptlearn.backbone.prompt_artifact imports it)
PROMPT_FILE = "prompt.safetensors"
_BRACKETED = re.compile(r"\[[^\]]*\]|<[^>]*>")


def check_init(init: str) -> None:
    """Raise a user-facing error unless ``init`` is random, vocab, text:WORDS or file:PATH (an existing path)."""
    kind, _, value = init.partition(":")
    if init in ("random", "vocab") or (kind == "text" and value.strip(" \"'")):
        return
    if kind == "run":
        check_run_spec(init)
        return
    if kind == "file":
        if not Path(value).exists():
            raise PromptlearnError(f"--init {init}: {value} does not exist; give a saved prompt or a run folder")
        return
    raise PromptlearnError(f"--init must be one of {', '.join(INITS)}, got {init!r}")


def soft_pattern(pattern: Pattern, length: int | None, mode_name: str) -> Pattern:
    """``pattern`` with its soft slots: as written, or ``length`` (default 20) leading ones if it has none."""
    if not pattern.soft_count:
        return pattern.with_leading_soft(length or DEFAULT_PROMPT_LENGTH)
    if length is not None and length != pattern.soft_count:
        raise PromptlearnError(
            f"The pattern {pattern.source!r} has {pattern.soft_count} [SOFT] tokens but mode {mode_name!r} was asked "
            f"for a prompt of length {length}. Drop --prompt-length, or make them agree."
        )
    return pattern


def load_prompt(path: str | Path) -> torch.Tensor:
    """A saved prompt as a float tensor (n, E).

    ``path`` is a run folder (its ``weights.safetensors``), a ``.safetensors`` file or a ``.pt``
    file (``torch.save`` of a tensor or of a dict of tensors). A file with one tensor gives it; one
    with several gives its ``mode.prompt`` entry (what ``soft_prompt``/``ptuning`` runs store).
    """
    path = Path(path)
    if path.is_dir():
        path = path / (PROMPT_FILE if (path / PROMPT_FILE).is_file() else _WEIGHTS)
    if not path.is_file():
        raise PromptlearnError(
            f"No saved prompt at {path}: give a run folder, a pretrain-prompt folder, a .safetensors or a .pt file"
        )
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        tensors = load_file(path)
    else:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
        tensors = loaded if isinstance(loaded, dict) else {PROMPT_KEY: loaded}
    if len(tensors) == 1:
        (prompt,) = tensors.values()
    elif PROMPT_KEY in tensors:
        prompt = tensors[PROMPT_KEY]
    else:
        raise PromptlearnError(f"{path} holds {sorted(tensors)} but no {PROMPT_KEY!r}: it is not a saved prompt")
    if not isinstance(prompt, torch.Tensor) or prompt.dim() != 2:
        raise PromptlearnError(f"The prompt in {path} must be a tensor of shape (length, word-embedding width)")
    return prompt.detach().float()


def initial_prompt(init: str, length: int, embeddings: nn.Embedding, tokenizer=None) -> torch.Tensor:
    """The starting prompt (length, E), E the word embeddings' width, for an ``--init`` spec (see :func:`check_init`).

    - ``random``: normal noise with the word embeddings' own standard deviation;
    - ``vocab``: embeddings of ``length`` distinct tokens sampled from the real vocabulary (never
      special, ``[unused]`` or other bracketed tokens: the first rows of BERT's vocabulary are those);
    - ``text:WORDS``: the embeddings of the words' tokens, repeated or cut to ``length``;
    - ``file:PATH``: a saved prompt (:func:`load_prompt`), which must have this length and width;
    - ``run:PATH[#TASK]``: the prompt another run trained (a task's, in a multi-task run folder), the same
      (:func:`~promptlearn.backbone.run_tensors.run_tensors`; prompt transfer, as SPoT).

    Sampling uses the global torch generator, so a seeded run starts from the same prompt.
    """
    weight = embeddings.weight.detach()  # (V, E)
    kind, _, value = init.partition(":")
    if init == "random":
        return torch.randn(length, weight.size(1)) * weight.float().std()
    if init == "vocab":
        candidates = torch.tensor(real_token_ids(_need(tokenizer, init)))
        if len(candidates) < length:
            raise PromptlearnError(f"--init vocab needs {length} real tokens, the vocabulary has {len(candidates)}")
        chosen = candidates[torch.randperm(len(candidates))[:length]]
        return weight[chosen].clone().float()
    if kind == "text":
        ids = _need(tokenizer, init)(value.strip(" \"'"), add_special_tokens=False)["input_ids"]
        if not ids:
            raise PromptlearnError(f"--init {init}: the text has no tokens")
        return weight[torch.tensor(ids).repeat(length // len(ids) + 1)[:length]].clone().float()
    prompt = run_tensors(init).get(PROMPT_KEY) if kind == "run" else load_prompt(value)
    if prompt is None:
        raise PromptlearnError(
            f"--init {init}: that run trained no soft prompt ({PROMPT_KEY}); transfer from a prompt run"
        )
    if tuple(prompt.shape) != (length, weight.size(1)):
        raise PromptlearnError(
            f"The prompt in {value} has shape {tuple(prompt.shape)}, but this run needs ({length}, {weight.size(1)}) "
            "(prompt length, word-embedding width). Use a prompt saved for this model and prompt length."
        )
    return prompt


def real_token_ids(tokenizer) -> list[int]:
    """Vocabulary ids of real tokens: not special, not ``[unused7]``/``<...>``-style placeholders."""
    special = set(tokenizer.all_special_ids)
    return [
        index
        for token, index in sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
        if index not in special and not _BRACKETED.fullmatch(token)
    ]


def insert_prompt(embeds: torch.Tensor, prompt: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Input embeddings (B, T, E) with row j of ``prompt`` (n, E) at ``positions[:, j]`` (B, n).

    Out of place, so the gradient flows to ``prompt`` and never to the word embeddings there.
    """
    index = positions.unsqueeze(-1).expand(-1, -1, embeds.size(-1))  # (B, n, E)
    rows = prompt.to(embeds.dtype).unsqueeze(0).expand(embeds.size(0), -1, -1)  # (B, n, E)
    return embeds.scatter(1, index, rows)


def _need(tokenizer, init: str):
    if tokenizer is None:
        raise PromptlearnError(f"--init {init} needs the model's tokenizer; build the PromptModel with one")
    return tokenizer
