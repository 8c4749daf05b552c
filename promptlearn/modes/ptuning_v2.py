"""``ptuning_v2``: trainable key/value prefixes in every layer (P-Tuning v2, Liu et al., ACL 2022).

Each self-attention attends to ``prompt_length`` trained key/value pairs of its own in front of
the real tokens (deep prompts); the backbone is frozen. ``prefix_projection`` produces the prefixes
with an MLP from P input vectors instead (prefix tuning's reparameterization, Li & Liang, ACL 2021).
The paper reads out with a linear head on [CLS]; by default we read label words at [MASK], so deep
prompts combine with the verbalizer. The prefixes enter inside attention (:mod:`promptlearn.backbone.prefix`),
so the real tokens keep their position ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from promptlearn.backbone import soft_prompts as prompts
from promptlearn.backbone.prefix import PREFIX_KWARG, PrefixEncoder, install, real_key_values
from promptlearn.backbone.run_tensors import PREFIX, check_run_spec, initialise_from_run
from promptlearn.errors import PromptlearnError
from promptlearn.modes.base import ModeOptions, option, register
from promptlearn.modes.readout import ReadoutChoice
from promptlearn.readout.registry import check_readout

INITS = ("vocab", "random")


@dataclass
class PTuningV2Options(ModeOptions):
    """Deep prompts: prefix slots in every layer, optionally produced by an MLP."""

    prompt_length: int = option(16, "Prefix slots per layer.", flag=True)
    prefix_projection: bool = option(False, "Produce the prefixes with an MLP of projection_hidden units.", flag=True)
    projection_hidden: int = option(512, "Hidden units of the prefix MLP.")
    prefix_dropout: float = option(
        0.1, "Dropout on the prefixes while training (the paper's code: the model's hidden dropout, 0.1)."
    )
    readout: str = option(
        "cloze", "'cloze' (label words at [MASK]) or 'cls' (linear head on [CLS], as in the paper).", flag=True
    )
    init: str = option(
        "vocab",
        "'vocab': keys/values of sampled real tokens (projected: their embeddings); 'random': noise at the "
        "word embeddings' scale; run:PATH[#TASK]: another ptuning_v2 run's trained prefixes (same length and "
        "projection).",
        flag=True,
        path=PREFIX,
    )

    def __post_init__(self):
        for name in ("prompt_length", "projection_hidden"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                flag = "--prompt-length" if name == "prompt_length" else name
                raise PromptlearnError(f"ptuning_v2: {flag} must be a positive integer, got {value!r}")
        if not 0 <= self.prefix_dropout < 1:
            raise PromptlearnError(f"ptuning_v2: prefix_dropout must be in [0, 1), got {self.prefix_dropout!r}")
        if self.init.startswith(PREFIX):
            check_run_spec(self.init)
        elif self.init not in INITS:
            raise PromptlearnError(
                f"ptuning_v2: --init must be one of {', '.join(INITS)} or run:PATH[#TASK], got {self.init!r}"
            )
        check_readout(self.readout)


@register
class PTuningV2Mode(ReadoutChoice):
    name = "ptuning_v2"
    description = "P-Tuning v2: trainable key/value prefixes in every layer, frozen model; label words or [CLS] head"
    # above the paper's 5e-3..1e-2 (base/large models): prefixes on small models move slowly at those rates
    default_learning_rate = 3e-2
    options_class = PTuningV2Options
    # readout=cls keeps the pattern: the [CLS] head reads the prompted input, unlike the other readout modes
    cls_reads_bare_text = False

    def attach(self, model) -> None:
        install(model.backbone)
        config = model.backbone.config
        options = self.options
        transfer = options.init.startswith(PREFIX)
        # a transferred prefix replaces whatever the encoder starts from: start it from noise, drawing no tokens
        start = "random" if transfer else options.init
        embeds = prompts.initial_prompt(start, options.prompt_length, model.word_embeddings, model.tokenizer)
        self.prefix = PrefixEncoder(
            num_layers=config.num_hidden_layers,
            num_heads=config.num_attention_heads,
            head_dim=config.hidden_size // config.num_attention_heads,
            # the MLP starts from token embeddings; bare prefixes from those tokens' keys and values
            initial=embeds if options.prefix_projection else real_key_values(model.backbone, embeds),
            projection_hidden=options.projection_hidden if options.prefix_projection else None,
            dropout=options.prefix_dropout,
        )
        if transfer:
            initialise_from_run(model, options.init, list(self.prefix.parameters()), "prefixes", scope="mode.prefix.")
        self.attach_head(model)

    def trained_parameters(self, model) -> dict[str, list[nn.Parameter]]:
        return {"prefix": list(self.prefix.parameters()), "head": self.head_parameters()}

    def group_learning_rates(self, learning_rate: float | None = None) -> dict[str, float]:
        rate = learning_rate or self.default_learning_rate
        return {"prefix": rate, "head": rate}  # one rate for all, as in the paper's code

    def no_decay_parameters(self, model) -> list[nn.Parameter]:
        return [self.prefix.prefix]  # the prefixes (or, projected, the MLP's input embeddings); MLP weights decay

    def encoder_kwargs(self, model, batch) -> dict:
        return {PREFIX_KWARG: self.prefix(batch["input_ids"].size(0))}
