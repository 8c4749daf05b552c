"""``ptuning``: P-Tuning v1 (Liu et al., "GPT Understands, Too", 2021).

n prompt embeddings pass through a 2-layer bidirectional LSTM and a 2-layer MLP, and the result
fills the pattern's [SOFT] slots (n leading slots when it has none). The MLM is frozen by default;
``--tune-model`` also trains it, with its own smaller ``--model-lr``, as in the paper's few-shot
(SuperGLUE) setup. The run folder stores the encoder *and* its output prompt ``mode.prompt``
(so the prompt can be used, e.g. as ``soft_prompt --init file:RUN``, without the encoder).
``readout=cls`` / ``warp`` replace the label words: see :class:`~promptlearn.modes.readout.PromptReadout`.
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
class PtuningOptions(ModeOptions):
    """The prompt's length, whether the MLM trains too, and the readout."""

    prompt_length: int | None = option(None, "n soft tokens, when the pattern has no [SOFT].", flag=True)
    tune_model: bool = option(False, "Also train the MLM.", flag="--tune-model/--freeze-model")
    model_lr: float | None = option(None, "Learning rate of the MLM (with --tune-model).", flag=True)
    readout: str = option(
        "cloze", "'cloze' (label words at [MASK]), 'cls' (linear head on [MASK]) or 'warp'.", flag=True
    )

    def __post_init__(self):
        if self.prompt_length is not None and self.prompt_length < 1:
            raise PromptlearnError(f"--prompt-length must be positive, got {self.prompt_length}")
        if self.model_lr is not None and (not self.tune_model or self.model_lr <= 0):
            raise PromptlearnError("--model-lr must be positive and needs --tune-model (the MLM is frozen without it)")
        check_readout(self.readout)


class PromptEncoder(nn.Module):
    """P-Tuning's reparameterization: () -> prompt (n, E) = MLP(BiLSTM(embeddings (n, E))).

    E is the word embeddings' width (``PromptModel.embedding_size``), which differs from the hidden
    size on ALBERT and ELECTRA: the prompt takes the place of word embeddings.
    """

    def __init__(self, length: int, width: int):
        super().__init__()
        self.embedding = nn.Parameter(torch.randn(length, width))  # nn.Embedding's N(0, 1), as in the paper
        self.lstm = nn.LSTM(width, width // 2, num_layers=2, bidirectional=True, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(2 * (width // 2), width), nn.ReLU(), nn.Linear(width, width))

    def forward(self) -> torch.Tensor:
        states, _ = self.lstm(self.embedding.unsqueeze(0))  # (1, n, 2 * (E // 2))
        return self.mlp(states[0])  # (n, E)


@register
class PtuningMode(PromptReadout):
    name = "ptuning"
    description = "P-Tuning v1: prompt embeddings through a BiLSTM + MLP; MLM frozen unless --tune-model"
    options_class = PtuningOptions
    default_learning_rate = 1e-3
    default_model_learning_rate = 1e-5
    uses_soft_tokens = True

    def adapt_pattern(self, pattern):
        pattern = prompts.soft_pattern(pattern, self.options.prompt_length, self.name)
        self.length = pattern.soft_count
        return pattern

    def attach(self, model) -> None:
        self.encoder = PromptEncoder(self.length, model.embedding_size)
        # the encoder's output, refreshed when the run is saved: a reload keeps it even without the encoder
        self.register_buffer("prompt", torch.zeros(self.length, model.embedding_size))
        self.attach_head(model)

    def trained_parameters(self, model) -> dict[str, list[nn.Parameter]]:
        return {"encoder": list(self.encoder.parameters()), "model": self._tuned(model), "head": self.head_parameters()}

    def _tuned(self, model) -> list[nn.Parameter]:
        """With ``--tune-model``: the MLM's parameters that the readout uses (cls: no MLM head; warp:
        no vocabulary bias, its class biases replace it); none without."""
        if not self.options.tune_model:
            return []
        if self.options.readout == "cls":
            return list(model.encoder.parameters())
        unused = model.backbone.get_output_embeddings().bias if self.options.readout == "warp" else None
        return [p for p in model.backbone.parameters() if p is not unused]

    def group_learning_rates(self, learning_rate: float | None = None) -> dict[str, float]:
        return {
            "encoder": learning_rate or self.default_learning_rate,
            "model": self.options.model_lr or self.default_model_learning_rate,
            "head": self.head_learning_rate,
        }

    def no_decay_parameters(self, model) -> list[nn.Parameter]:
        return [self.encoder.embedding]  # the prompt's input embeddings; the LSTM and MLP weights decay

    def embed(self, model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        embeds = model.word_embeddings(batch["input_ids"])  # (B, T, E)
        return prompts.insert_prompt(embeds, self.encoder(), batch["soft_positions"])

    def artifact_state(self, model) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            self.prompt.copy_(self.encoder())
        return {**super().artifact_state(model), prompts.PROMPT_KEY: self.prompt.detach()}
