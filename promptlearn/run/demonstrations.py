"""Demonstrations as a run-level feature: the run's training examples appended to every input (LM-BFF).

How one demonstration is drawn and rendered is text -> ids (:mod:`promptlearn.prompt.demonstrations`);
here the run chooses the pool (its few-shot train split, kept in the run folder as :data:`FILE`) and,
for ``--similar-demonstrations``, embeds examples with its own backbone (:func:`mean_pooled`).
Prediction averages over the draws (:meth:`promptlearn.run.prompted.Prompted.predict_proba`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from promptlearn.data.examples import Example, load_examples
from promptlearn.errors import PromptlearnError
from promptlearn.outputs import to_json, write_text_atomic
from promptlearn.run.feature import Feature, Fitting, Run, RunSettings, option

if TYPE_CHECKING:
    import numpy as np
    import torch

DEMONSTRATIONS = option(False, "Append one filled-in training example per label to every input (LM-BFF).")
DEMONSTRATION_SETS = option(16, "[--demonstrations] Draws averaged at prediction.")
DEMONSTRATION_LENGTH = option(64, "[--demonstrations] Token budget of each demonstration.")
SIMILAR_DEMONSTRATIONS = option(False, "[--demonstrations] Draw from the closer half of each label's.")
#: the run folder's copy of the pool demonstrations are drawn from
FILE = "demonstrations.jsonl"


def use_demonstrations(run: Run, pool: list[Example]) -> None:
    """With ``config.demonstrations``, make ``run``'s PVP append demonstrations drawn from ``pool``."""
    from promptlearn.prompt.demonstrations import Demonstrations

    config = run.config
    if not config.demonstrations:
        return
    backbone, tokenizer = run.model.backbone, run.pvp.tokenizer
    demonstrations = Demonstrations(
        pool=[ex for ex in pool if ex.label is not None],
        sets=config.demonstration_sets,
        length=config.demonstration_length,
        similar=config.similar_demonstrations,
        seed=config.seed,
        embed=lambda examples: mean_pooled(backbone, tokenizer, examples),
    )
    demonstrations.check(run.pvp, getattr(backbone.config, "max_position_embeddings", None))
    run.pvp.demonstrations = demonstrations


def mean_pooled(backbone: torch.nn.Module, tokenizer, examples: list[Example], batch_size: int = 64) -> np.ndarray:
    """Mean over tokens of the encoder's last hidden states (N, H), the input's own text only."""
    import torch

    was_training = backbone.training
    backbone.eval()
    device = next(backbone.parameters()).device
    parts = []
    try:
        with torch.no_grad():
            for start in range(0, len(examples), batch_size):
                chunk = examples[start : start + batch_size]
                pair = [ex.text_b for ex in chunk] if any(ex.text_b is not None for ex in chunk) else None
                if pair is not None:
                    pair = [text or "" for text in pair]
                texts = [ex.text_a for ex in chunk]
                inputs = tokenizer(texts, pair, truncation=True, max_length=128, padding=True, return_tensors="pt")
                inputs = inputs.to(device)
                hidden = backbone.base_model(**inputs).last_hidden_state  # (B, T, H)
                mask = inputs["attention_mask"][..., None].to(hidden.dtype)  # (B, T, 1)
                parts.append(((hidden * mask).sum(1) / mask.sum(1)).float().cpu())
    finally:
        backbone.train(was_training)
    return torch.cat(parts).numpy()


def write_examples(path: Path, examples: list[Example]) -> None:
    """``examples`` as .jsonl with the default columns (``text``, ``text_b``, ``label``)."""
    rows = [{"text": ex.text_a, "text_b": ex.text_b, "label": ex.label} for ex in examples]
    write_text_atomic(path, "".join(to_json(r, indent=None) + "\n" for r in rows))


class Demonstrations(Feature):
    """``--demonstrations``: drawn from the run's train split, which the run folder keeps for loading."""

    options: ClassVar = {
        "demonstrations": ("bool", DEMONSTRATIONS),
        "demonstration_sets": ("int", DEMONSTRATION_SETS),
        "demonstration_length": ("int", DEMONSTRATION_LENGTH),
        "similar_demonstrations": ("bool", SIMILAR_DEMONSTRATIONS),
    }
    shapes: ClassVar = ("single",)  # one demonstration per class, filled in with its label word

    def used(self, config: RunSettings) -> str | None:
        return "--demonstrations" if config.demonstrations else None

    def check(self, config: RunSettings) -> None:
        for flag, value in (
            ("--demonstration-sets", config.demonstration_sets),
            ("--demonstration-length", config.demonstration_length),
        ):
            if value <= 0:
                raise PromptlearnError(f"{flag} must be positive, got {value}")

    def setup(self, run: Run, fitting: Fitting) -> None:
        use_demonstrations(run, fitting.train)

    def save(self, run: Run, folder: Path) -> None:
        if run.pvp.demonstrations is not None:
            write_examples(folder / FILE, run.pvp.demonstrations.pool)

    def load(self, run: Run, folder: Path) -> None:
        if run.config.demonstrations:
            use_demonstrations(run, load_examples(folder / FILE))


FEATURE = Demonstrations()
