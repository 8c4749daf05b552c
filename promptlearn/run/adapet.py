"""Feature: ``--objective adapet``, ADAPET's loss in place of cross-entropy (cloze modes with the MLM head).

The loss itself is :class:`promptlearn.training.adapet.Adapet`; here the run checks that its mode reads the MLM
head's full vocabulary at one [MASK] (single-token label words), and builds the loss from the PVP's words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from promptlearn.errors import PromptlearnError
from promptlearn.run.feature import Feature, Fitting, RunSettings, option

if TYPE_CHECKING:
    from promptlearn.model.prompt_model import PromptModel
    from promptlearn.prompt.pvp import PVP

#: ``--objective`` values: PET's cross-entropy over the label words, or ADAPET's decoupled losses
OBJECTIVES = ("cross_entropy", "adapet")

OBJECTIVE = option(
    "cross_entropy",
    "What training minimises: 'cross_entropy' over the label words, or 'adapet' (Tam et al. 2021: decoupled "
    "label loss + label-conditioned MLM; cloze modes).",
    omitted_at_default=True,
)
ADAPET_MASK_RATIO = option(
    0.105,
    "[--objective adapet] alpha: the label-conditioned MLM masks up to this fraction of a row's tokens (paper's).",
    omitted_at_default=True,
)
ADAPET_MLM_WEIGHT = option(
    1.0,
    "[--objective adapet] Weight of the label-conditioned MLM loss beside the decoupled label loss (paper: 1).",
    omitted_at_default=True,
)


def adapet_loss(config: RunSettings, pvp: PVP, model: PromptModel):
    """ADAPET's loss for this run's words and tokenizer; refuses a mode it cannot train."""
    import torch

    from promptlearn.training.adapet import Adapet

    if model.label_words is None or model.mode.head is not None:
        raise PromptlearnError(
            f"--objective adapet reads the masked LM's head over the whole vocabulary at [MASK], but mode "
            f"{config.mode!r} scores with a head of its own here. Use a cloze mode (pet, mlm_head, soft_prompt, "
            "ptuning, ...; readout=cloze), or --objective cross_entropy."
        )
    long = [label for label, words in zip(pvp.labels, pvp.label_word_tokens, strict=True) if max(map(len, words)) > 1]
    if long:
        raise PromptlearnError(
            f"--objective adapet needs single-token label words, but label {long[0]!r} has a word of several "
            "tokens (`promptlearn show-pattern` shows how words tokenize). Choose single-token words."
        )
    width = max(len(words) for words in pvp.label_word_tokens)
    words = torch.zeros(len(pvp.labels), width, dtype=torch.long)
    valid = torch.zeros(len(pvp.labels), width)
    for row, label_words in enumerate(pvp.label_word_tokens):
        words[row, : len(label_words)] = torch.tensor([ids[0] for ids in label_words])
        valid[row, : len(label_words)] = 1
    tokenizer = pvp.tokenizer
    return Adapet(
        words,
        valid,
        fill=words[:, 0],
        protected=tokenizer.all_special_ids,
        mask_token_id=tokenizer.mask_token_id,
        mask_ratio=config.adapet_mask_ratio,
        mlm_weight=config.adapet_mlm_weight,
        seed=config.seed,
    )


class AdapetObjective(Feature):
    """``--objective adapet``: the objective's task loss is ADAPET's."""

    options: ClassVar = {
        "objective": ("str", OBJECTIVE),
        "adapet_mask_ratio": ("float", ADAPET_MASK_RATIO),
        "adapet_mlm_weight": ("float", ADAPET_MLM_WEIGHT),
    }
    shapes: ClassVar = ("single",)  # its label loss scores one right label word per example against the others

    def used(self, config: RunSettings) -> str | None:
        return "--objective adapet" if config.objective == "adapet" else None

    def check(self, config: RunSettings) -> None:
        if config.objective not in OBJECTIVES:
            raise PromptlearnError(f"--objective must be one of {', '.join(OBJECTIVES)}, got {config.objective!r}")
        if not 0 < config.adapet_mask_ratio <= 1:
            raise PromptlearnError(f"--adapet-mask-ratio must be in (0, 1], got {config.adapet_mask_ratio}")
        if config.adapet_mlm_weight < 0:
            raise PromptlearnError(f"--adapet-mlm-weight must be >= 0, got {config.adapet_mlm_weight}")
        if config.objective == "adapet" and config.soft_labels is not None:
            raise PromptlearnError("--objective adapet learns hard labels; it cannot learn --soft-labels distributions")

    def objective(self, fitting: Fitting, pvp: PVP, model: PromptModel) -> dict:
        if fitting.config.objective != "adapet":
            return {}
        return {"task_loss": adapet_loss(fitting.config, pvp, model)}


FEATURE = AdapetObjective()
