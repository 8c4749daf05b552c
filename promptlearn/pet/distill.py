"""Distillation: the last generation's ensemble labels the pool with soft labels; one classifier learns them.

The soft labels are softmax(merged logits / T) (T = 2 in PET). The pool goes to
``data/final/train.jsonl`` (``label``: the most probable label) and the distributions, in the same
order and in the order of ``labels``, to ``soft_labels.jsonl``, beside the labelled dev and the test
split; the final classifier
(``final_mode``, PET's sequence classifier = ``finetune``) is trained on them through the cloze
objective's soft-target loss (KL at temperature T, :mod:`promptlearn.training.objective`) into ``final/``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from promptlearn.data.examples import Example
from promptlearn.errors import PromptlearnError
from promptlearn.modes import get_mode
from promptlearn.outputs import DATA, staged_folder, to_json
from promptlearn.pet.ensemble import soften
from promptlearn.pet.members import train_member
from promptlearn.pet.pool import rows_text
from promptlearn.pet.selection import select

if TYPE_CHECKING:
    from promptlearn.pet.members import Member
    from promptlearn.pet.pipeline import Pipeline

FINAL = "final"
SOFT_LABELS = "soft_labels.jsonl"


def soft_labelled_pool(pipeline: Pipeline, members: list[Member]):
    """The pool with hard labels (argmax) and the (N, C) soft labels at the configured temperature."""
    logits = pipeline.ensemble(members, "pool")
    soft = soften(logits, pipeline.config.temperature)
    predicted = [pipeline.labels[int(i)] for i in logits.argmax(axis=1)]
    examples = [Example(ex.text_a, ex.text_b, label) for ex, label in zip(pipeline.pool, predicted, strict=True)]
    return examples, soft, logits


def write_final_data(pipeline: Pipeline, members: list[Member]) -> None:
    """``data/final/``: train = the soft-labelled pool, dev, test; skipped when it exists."""
    folder = pipeline.root / "data" / FINAL
    if folder.is_dir():
        return
    examples, soft, logits = soft_labelled_pool(pipeline, members)
    dev = pipeline.dev
    if not dev:  # zero-shot: no labelled dev; choose checkpoints on the ensemble's most confident labels
        picks = select(soften(logits), pipeline.config.zero_shot_start * len(pipeline.labels),
                       pipeline.label_shares(), pipeline.base.seed, most_likely=True)  # fmt: skip
        dev = [examples[row] for row, _ in picks]
    with staged_folder(folder, overwrite=True, kind=DATA) as staging:
        (staging / "train.jsonl").write_text(rows_text(examples), encoding="utf-8")
        targets = "".join(to_json([round(float(p), 8) for p in row], indent=None) + "\n" for row in soft)
        (staging / SOFT_LABELS).write_text(targets, encoding="utf-8")
        (staging / "dev.jsonl").write_text(rows_text(dev), encoding="utf-8")
        test = pipeline.cache.splits["test"]
        if test:
            (staging / "test.jsonl").write_text(rows_text(test), encoding="utf-8")


def final_config(pipeline: Pipeline):
    """The final classifier's run config: the soft-labelled pool, ``final_mode``, KL at the pipeline's temperature."""
    config = pipeline.config
    folder = (pipeline.root / "data" / FINAL).resolve()
    return pipeline.base.replace(
        data=str(folder), shots=None, soft_labels=str(folder / SOFT_LABELS), temperature=config.temperature,
        mode=config.final_mode, mode_options={}, learning_rate=None, aux_mlm_weight=0.0, unlabeled=None,
        max_steps=config.final_steps or pipeline.base.max_steps, epochs=None,
        pattern=config.patterns[0], pattern_id=config.pattern_ids[0],
    )  # fmt: skip


def check_final(pipeline: Pipeline) -> None:
    """Refuse, before anything trains, a final classifier that cannot read the members' demonstrations."""
    config = final_config(pipeline)
    if config.demonstrations and not get_mode(config.mode).from_options(config.mode_options).uses_verbalizer:
        raise PromptlearnError(
            f"The distilled classifier (--final-mode {config.mode}) has no label words to fill demonstrations "
            "with: leave out --demonstrations or give a cloze --final-mode (e.g. pet); in fewshot, pet-ensemble "
            "needs no distilled classifier"
        )


def train_final(pipeline: Pipeline, members: list[Member]) -> None:
    """Write the soft-labelled pool and train the final classifier on it (skipped when ``final/`` is done)."""
    write_final_data(pipeline, members)
    train_member(final_config(pipeline), pipeline.root / FINAL)
