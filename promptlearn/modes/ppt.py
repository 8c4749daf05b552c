"""``ppt``: Pre-trained Prompt Tuning (Gu et al., ACL 2022) — a soft prompt that starts from a pretrained one.

Composition, not a new kind of prompt: the mode owns a ``soft_prompt`` mode initialised from the
artifact (``--prompt``, made by ``promptlearn pretrain-prompt``) and forwards every hook to it.
What it adds is the safety check: the artifact must have been pretrained on this very base model
(same hidden size, config hash and word-embedding hash), because a prompt of the right shape
from another model is silently meaningless. ``--mode soft_prompt --init file:DIR``
trains the same way without that check. ``readout=cls`` / ``warp``: a head of ppt's own beside the
prompt (:class:`~promptlearn.modes.readout.PromptReadout`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from promptlearn.backbone.prompt_artifact import PromptArtifact, artifact_file
from promptlearn.errors import PromptlearnError
from promptlearn.modes.base import ModeOptions, option, register
from promptlearn.modes.readout import PromptReadout
from promptlearn.modes.soft_prompt import SoftPromptMode, SoftPromptOptions
from promptlearn.readout.registry import check_readout


@dataclass
class PptOptions(ModeOptions):
    """The pretrained prompt to start from, and the readout."""

    prompt: str | None = option(
        None,
        "A pretrained prompt: an artifact file or a `promptlearn pretrain-prompt` output folder.",
        flag=True,
        path="",
    )
    readout: str = option(
        "cloze", "'cloze' (label words at [MASK]), 'cls' (linear head on [MASK]) or 'warp'.", flag=True
    )

    def __post_init__(self):
        if not self.prompt:
            raise PromptlearnError(
                "--mode ppt needs --prompt PATH: a pretrained prompt from `promptlearn pretrain-prompt --output PATH`"
            )
        check_readout(self.readout)


@register
class PptMode(PromptReadout):
    name = "ppt"
    description = "PPT: prompt tuning that starts from a prompt pretrained on unlabeled text (--prompt)"
    options_class = PptOptions
    default_learning_rate = SoftPromptMode.default_learning_rate
    uses_soft_tokens = True

    def __init__(self, options: PptOptions | None = None):
        super().__init__(options)
        self.artifact = PromptArtifact.load(self.options.prompt)
        path = artifact_file(self.options.prompt)
        self.soft = SoftPromptMode(SoftPromptOptions(prompt_length=self.artifact.prompt_length, init=f"file:{path}"))

    def adapt_pattern(self, pattern):
        return self.soft.adapt_pattern(pattern)

    def attach(self, model) -> None:
        self.artifact.check_compatible(model.backbone, origin=f"The prompt {self.options.prompt}")
        self.soft.attach(model)  # the prompt only: the inner mode reads label words, the head is ppt's
        self.attach_head(model)

    def trained_parameters(self, model) -> dict[str, list[nn.Parameter]]:
        return {**self.soft.trained_parameters(model), "head": self.head_parameters()}

    def group_learning_rates(self, learning_rate: float | None = None) -> dict[str, float]:
        return {**self.soft.group_learning_rates(learning_rate), "head": self.head_learning_rate}

    def no_decay_parameters(self, model) -> list[nn.Parameter]:
        return self.soft.no_decay_parameters(model)

    def embed(self, model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.soft.embed(model, batch)
