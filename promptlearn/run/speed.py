"""Feature: training without padding (``--packed``) and with sparse embedding gradients (``--sparse-embedding-grads``).

Both change how a step is computed, not what it computes: a packed batch gives every real token the state
the padded batch gives it (:mod:`promptlearn.backbone.packing`), and sparse embedding gradients reach dense
AdamW as the same dense gradient (:mod:`promptlearn.training.sparse_grads`); both agree with the default
path to float rounding, which is why they are left out of ``config.json`` (:data:`~promptlearn.run.feature.UNSAVED`)
as ``--threads`` is. Neither is the default: packing pays only where batches carry much padding (a
length-grouped few-shot batch carries little) and needs an encoder that takes a packed row; sparse gradients
pay only where the word embeddings train. docs/benchmarks.md has the measurements.

Applied where the model is built (:func:`apply`), so ``train``, the grids and ``bench`` get the same thing;
each refuses, with what to do, where it cannot hold.
"""

from __future__ import annotations

from typing import ClassVar

from promptlearn.errors import PromptlearnError
from promptlearn.run.feature import Feature, RunSettings, option
from promptlearn.tasks.base import TaskShape

PACKED = option(
    False,
    "Train on batches packed without padding, each sequence attending to itself (same loss; BERT/ELECTRA "
    "encoders, modes that leave attention alone).",
    saved=False,
)
SPARSE_EMBEDDING_GRADS = option(
    False,
    "Word-embedding gradients of only the rows a batch touches, made dense for AdamW (same updates; modes "
    "that train the embeddings: pet, finetune).",
    saved=False,
)


class Speed(Feature):
    """``--packed`` and ``--sparse-embedding-grads``: how a training step is computed."""

    options: ClassVar = {
        "packed": ("bool", PACKED),
        "sparse_embedding_grads": ("bool", SPARSE_EMBEDDING_GRADS),
    }


def apply(model, config: RunSettings, shape: TaskShape) -> None:
    """Set ``config``'s speed options on a built :class:`~promptlearn.model.prompt_model.PromptModel` of a task of
    ``shape``."""
    from promptlearn.backbone.packing import check_encoder
    from promptlearn.modes.base import Mode

    mode = model.mode
    if config.packed:
        if shape.choices_are_words:
            raise PromptlearnError(
                "--packed cannot train a multiple-choice run: its choices' masks are read at positions a packed row "
                "does not keep apart. Train it without --packed."
            )
        if type(mode).encoder_kwargs is not Mode.encoder_kwargs:
            raise PromptlearnError(
                f"--packed cannot train mode {mode.name!r}: it passes inputs of its own to the encoder's attention "
                "(e.g. deep prompts), which a packed row would mix between sequences. Train it without --packed."
            )
        check_encoder(model.encoder, model.embedding_size, model.uses_segments)
        model.packed = True
    if config.sparse_embedding_grads:
        if not model.word_embeddings.weight.requires_grad:
            raise PromptlearnError(
                f"--sparse-embedding-grads needs a mode that trains the word embeddings (pet, finetune); "
                f"{mode.name!r} keeps them frozen, so they have no gradient to make sparse. Leave the option off."
            )
        model.sparse_embedding_grads()


FEATURE = Speed()
