"""``ptuning_v2``: trainable key/value prefixes in every layer (P-Tuning v2, Liu et al., ACL 2022).

Each self-attention attends to ``prompt_length`` trained key/value pairs of its own in front of
the real tokens (deep prompts); the backbone is frozen. ``prefix_projection`` produces the prefixes
with an MLP from P input vectors instead (prefix tuning's reparameterization, Li & Liang, ACL 2021).
The paper reads out with a linear head on [CLS]; by default we read label words at [MASK], so deep
prompts combine with the verbalizer. The prefixes enter inside attention (:mod:`promptlearn.prefix`),
so the real tokens keep their position ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from promptlearn.errors import PromptlearnError
from promptlearn.modes.base import Mode, ModeOptions, register
from promptlearn.prefix import PREFIX_KWARG, PrefixEncoder, install

READOUTS = ("cloze", "cls")


@dataclass
class PTuningV2Options(ModeOptions):
    """``prompt_length``: prefix slots per layer. ``prefix_projection``: produce them with an MLP of
    ``projection_hidden`` units. ``prefix_dropout``: dropout on the prefixes while training (the
    paper's code uses the model's hidden dropout, 0.1). ``readout``: 'cloze' (label words at
    [MASK]) or 'cls' (linear head on [CLS], as in the paper)."""

    prompt_length: int = 16
    prefix_projection: bool = False
    projection_hidden: int = 512
    prefix_dropout: float = 0.1
    readout: str = "cloze"

    def __post_init__(self):
        for name in ("prompt_length", "projection_hidden"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                flag = "--prompt-length" if name == "prompt_length" else name
                raise PromptlearnError(f"ptuning_v2: {flag} must be a positive integer, got {value!r}")
        if not 0 <= self.prefix_dropout < 1:
            raise PromptlearnError(f"ptuning_v2: prefix_dropout must be in [0, 1), got {self.prefix_dropout!r}")
        if self.readout not in READOUTS:
            raise PromptlearnError(f"ptuning_v2: --readout must be one of {', '.join(READOUTS)}, got {self.readout!r}")


@register
class PTuningV2Mode(Mode):
    name = "ptuning_v2"
    description = "P-Tuning v2: trainable key/value prefixes in every layer, frozen model; label words or [CLS] head"
    default_learning_rate = 5e-3
    options_class = PTuningV2Options

    def __init__(self, options: PTuningV2Options | None = None):
        super().__init__(options)
        self.uses_verbalizer = self.options.readout == "cloze"

    def attach(self, model) -> None:
        install(model.backbone)
        config = model.backbone.config
        options = self.options
        self.prefix = PrefixEncoder(
            num_layers=config.num_hidden_layers,
            num_heads=config.num_attention_heads,
            head_dim=config.hidden_size // config.num_attention_heads,
            length=options.prompt_length,
            hidden=config.hidden_size,
            projection_hidden=options.projection_hidden if options.prefix_projection else None,
            dropout=options.prefix_dropout,
        )

    def encoder_kwargs(self, model, batch) -> dict:
        return {PREFIX_KWARG: self.prefix(batch["input_ids"].size(0))}
