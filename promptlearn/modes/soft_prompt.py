"""``soft_prompt``: prompt tuning (Lester et al., EMNLP 2021) — only n prompt embeddings train.

The prompt (``mode.prompt``, shape (n, E)) fills the pattern's ``[SOFT]`` / ``[SOFT:n]`` slots, or
n slots put in front of a pattern that has none (``--prompt-length``, default 20). The frozen
MLM reads label words at [MASK] (``readout=cls`` / ``warp``: see :class:`~promptlearn.modes.readout.PromptReadout`).
The default init samples real vocabulary tokens: Lester et al. found it beats random init, and
copying the *first* rows ([PAD], [unused...]) is what hurts.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from promptlearn.backbone import soft_prompts as prompts
from promptlearn.errors import PromptlearnError
from promptlearn.modes.base import ModeOptions, option, register
from promptlearn.modes.readout import PromptReadout
from promptlearn.readout.registry import check_readout


@dataclass
class SoftPromptOptions(ModeOptions):
    """The prompt's length, its starting values and the readout."""

    prompt_length: int | None = option(None, "n soft tokens, when the pattern has no [SOFT].", flag=True)
    init: str = option(
        "vocab",
        "Starting prompt: random, vocab, text:WORDS, file:PATH or run:PATH[#TASK] (another run's trained prompt).",
        flag=True,
        path=("file:", "run:"),
    )
    readout: str = option(
        "cloze", "'cloze' (label words at [MASK]), 'cls' (linear head on [MASK]) or 'warp'.", flag=True
    )

    def __post_init__(self):
        if self.prompt_length is not None and self.prompt_length < 1:
            raise PromptlearnError(f"--prompt-length must be positive, got {self.prompt_length}")
        prompts.check_init(self.init)
        check_readout(self.readout)


@register
class SoftPromptMode(PromptReadout):
    name = "soft_prompt"
    description = "Prompt tuning: only n soft-token embeddings train; the MLM is frozen"
    options_class = SoftPromptOptions
    default_learning_rate = 1e-2
    uses_soft_tokens = True

    def adapt_pattern(self, pattern):
        length = self.options.prompt_length
        if length is None and not pattern.soft_count and self.options.init.startswith("file:"):
            length = len(prompts.load_prompt(self.options.init.partition(":")[2]))
        pattern = prompts.soft_pattern(pattern, length, self.name)
        self.length = pattern.soft_count
        return pattern

    def attach(self, model) -> None:
        initial = prompts.initial_prompt(self.options.init, self.length, model.word_embeddings, model.tokenizer)
        self.prompt = nn.Parameter(initial)  # (n, E)
        self.attach_head(model)

    def trained_parameters(self, model) -> dict[str, list[nn.Parameter]]:
        return {"prompt": [self.prompt], "head": self.head_parameters()}

    def group_learning_rates(self, learning_rate: float | None = None) -> dict[str, float]:
        return {"prompt": learning_rate or self.default_learning_rate, "head": self.head_learning_rate}

    def no_decay_parameters(self, model) -> list[nn.Parameter]:
        return [self.prompt]

    def embed(self, model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        embeds = model.word_embeddings(batch["input_ids"])  # (B, T, E)
        return prompts.insert_prompt(embeds, self.prompt, batch["soft_positions"])
