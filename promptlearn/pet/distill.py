"""Distillation: the last generation's ensemble labels the pool with soft labels; one classifier learns them.

The soft labels are softmax(merged logits / T) (T = 2 in PET). The pool goes to
``data/final/train.jsonl`` (``label``: the most probable label) and the distributions, in the same
order and in the order of ``labels``, to ``soft_labels.jsonl``, beside the labelled dev and the test
split; the final classifier
(``final_mode``, PET's sequence classifier = ``finetune``) is trained on them through the cloze
objective's soft-target loss (KL at temperature T, :mod:`promptlearn.training.objective`) into ``final/``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from promptlearn.data.examples import Example
from promptlearn.errors import PromptlearnError
from promptlearn.modes import get_mode
from promptlearn.outputs import DATA, staged_folder, to_json
from promptlearn.pet.config import PetConfig
from promptlearn.pet.ensemble import soften
from promptlearn.pet.members import train_member
from promptlearn.pet.pool import rows_text
from promptlearn.pet.selection import select
from promptlearn.pet.state import PetState
from promptlearn.run.config import RunConfig
from promptlearn.tasks import get_shape

FINAL = "final"
SOFT_LABELS = "soft_labels.jsonl"


def soft_labelled_pool(state: PetState):
    """The pool with hard labels (argmax) and the (N, C) soft labels at the configured temperature, by the
    ensemble of the state's last generation; also the merged (N, C) logits.

    A shape that merges probabilities (multi-label, regression) has the ensemble's probabilities as its soft
    labels, unsoftened, and its own hard labels (:meth:`~promptlearn.tasks.base.TaskShape.pool_label`: the
    labels at the ensemble's threshold chosen on dev, the averaged score)."""
    members = state.generations[-1]
    logits = state.ensemble(members, "pool")
    shape = state.shape
    if shape.merges_probabilities:
        soft, decision = np.exp(logits), state.decision(members)
        predicted = [shape.pool_label(row, state.labels, decision) for row in soft]
    else:
        soft = soften(logits, state.config.temperature)
        predicted = [state.labels[int(i)] for i in logits.argmax(axis=1)]
    examples = [Example(ex.text_a, ex.text_b, label) for ex, label in zip(state.pool, predicted, strict=True)]
    return examples, soft, logits


def write_final_data(state: PetState) -> None:
    """``data/final/``: train = the soft-labelled pool, dev, test; skipped when it exists."""
    folder = state.root / "data" / FINAL
    if folder.is_dir():
        return
    examples, soft, logits = soft_labelled_pool(state)
    dev = state.dev
    if not dev:  # zero-shot: no labelled dev; choose checkpoints on the ensemble's most confident labels
        picks = select(soften(logits), state.config.zero_shot_start * len(state.labels),
                       state.label_shares(), state.base.seed, most_likely=True)  # fmt: skip
        dev = [examples[row] for row, _ in picks]
    with staged_folder(folder, overwrite=True, kind=DATA) as staging:
        (staging / "train.jsonl").write_text(rows_text(examples), encoding="utf-8")
        targets = "".join(to_json([round(float(p), 8) for p in row], indent=None) + "\n" for row in soft)
        (staging / SOFT_LABELS).write_text(targets, encoding="utf-8")
        (staging / "dev.jsonl").write_text(rows_text(dev), encoding="utf-8")
        if state.test:
            (staging / "test.jsonl").write_text(rows_text(state.test), encoding="utf-8")


def final_config(config: PetConfig, base: RunConfig, root: Path) -> RunConfig:
    """The final classifier's run config: the soft-labelled pool in ``root``, ``final_mode``, KL at the
    pipeline's temperature (1 for a shape that merges probabilities); ``base`` is the pipeline's run template."""
    folder = (root / "data" / FINAL).resolve()
    softened = not get_shape(base.task_type).merges_probabilities  # else the soft labels are learned as they are
    return base.replace(
        data=str(folder), shots=None, soft_labels=str(folder / SOFT_LABELS),
        temperature=config.temperature if softened else 1.0,
        mode=config.final_mode, mode_options={}, learning_rate=None, aux_mlm_weight=0.0, unlabeled=None,
        max_steps=config.final_steps or base.max_steps, epochs=None,
        pattern=config.patterns[0], pattern_id=config.pattern_ids[0],
    )  # fmt: skip


def check_final(config: PetConfig, base: RunConfig, root: Path) -> None:
    """Refuse, before anything trains, a final classifier that cannot read the members' demonstrations."""
    final = final_config(config, base, root)
    if final.demonstrations and not get_mode(final.mode).from_options(final.mode_options).uses_verbalizer:
        raise PromptlearnError(
            f"The distilled classifier (--final-mode {final.mode}) has no label words to fill demonstrations "
            "with: leave out --demonstrations or give a cloze --final-mode (e.g. pet); in fewshot, pet-ensemble "
            "needs no distilled classifier"
        )


def train_final(state: PetState) -> None:
    """Write the pool soft-labelled by the last generation and train the final classifier on it (skipped
    when ``final/`` is done)."""
    write_final_data(state)
    train_member(final_config(state.config, state.base, state.root), state.root / FINAL)
