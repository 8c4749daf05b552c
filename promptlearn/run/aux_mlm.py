"""PET's auxiliary masked-LM loss: ``(1 - w) * task + w * MLM`` on unlabelled text (cloze modes only).

The texts are the run's unlabelled pool (:mod:`promptlearn.run.unlabeled`); the MLM batches run through
the mode, so a soft prompt or prefixes learn from them too (:class:`promptlearn.training.aux_mlm.MlmBatches`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from promptlearn.data.examples import Example, TaskData
from promptlearn.errors import PromptlearnError
from promptlearn.run.feature import Feature, Fitting, Run, RunSettings, option
from promptlearn.run.unlabeled import MAX_UNLABELED, UNLABELED, unlabeled_pool

if TYPE_CHECKING:
    from promptlearn.model.prompt_model import PromptModel
    from promptlearn.prompt.pvp import PVP
    from promptlearn.training.objective import Objective

AUX_MLM_WEIGHT = option(
    0.0, "w > 0: loss = (1 - w) task + w MLM on unlabelled text (PET's auxiliary loss; cloze modes)."
)


def unlabeled_texts(config: RunSettings, data: TaskData, used: list[Example]) -> list:
    """Texts for the auxiliary MLM loss (:func:`~promptlearn.run.unlabeled.unlabeled_pool`): at most what
    training reads (steps x batch, or :data:`MAX_UNLABELED`); pairs as ``(text_a, text_b)``."""
    needed = config.max_steps * config.batch_size * config.grad_accum if config.max_steps else MAX_UNLABELED
    pool = unlabeled_pool(config, data, used, needed)
    return [ex.text_a if ex.text_b is None else (ex.text_a, ex.text_b) for ex in pool]


def auxiliary_terms(config: RunSettings, pvp: PVP, model: PromptModel, texts: list) -> dict:
    """The objective's keyword arguments that mix in the MLM loss on ``texts``."""
    from promptlearn.training.aux_mlm import MlmBatches

    if model.label_words is None:
        raise PromptlearnError(
            f"--aux-mlm-weight trains the masked LM's head, but mode {config.mode!r} has a classification head"
        )
    prompt = pvp.pattern.soft_count  # the MLM batch runs through the mode: it needs the prompt's slots
    batches = MlmBatches(texts, pvp.tokenizer, config.batch_size, config.max_length, config.seed, prompt)
    return {"aux_mlm_weight": config.aux_mlm_weight, "mlm_batches": batches}


def auxiliary_objective(config: RunSettings, run: Run, texts: list) -> Objective:
    """Cross-entropy mixed with PET's auxiliary MLM loss on ``texts`` (cloze modes only)."""
    from promptlearn.training.objective import Objective

    return Objective(config.temperature, **auxiliary_terms(config, run.pvp, run.model, texts))


class AuxiliaryMlm(Feature):
    """``--aux-mlm-weight w``: the objective adds the MLM loss on the run's unlabelled pool.

    It is the first feature that reads the pool, so it lists the pool's option, ``unlabeled``, after its own."""

    options: ClassVar = {"aux_mlm_weight": ("float", AUX_MLM_WEIGHT), "unlabeled": ("str | None", UNLABELED)}

    def check(self, config: RunSettings) -> None:
        if not 0 <= config.aux_mlm_weight < 1:
            raise PromptlearnError(f"--aux-mlm-weight must be in [0, 1), got {config.aux_mlm_weight}")

    def objective(self, fitting: Fitting, pvp: PVP, model: PromptModel) -> dict:
        config = fitting.config
        if not config.aux_mlm_weight:
            return {}
        texts = unlabeled_texts(config, fitting.data, fitting.train + fitting.dev)
        return {"temperature": config.temperature} | auxiliary_terms(config, pvp, model, texts)


FEATURE = AuxiliaryMlm()
