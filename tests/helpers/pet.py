"""Helpers shared by the PET test files: a tiny task with an unlabelled pool, a tiny pipeline config."""

from __future__ import annotations

import pytest

from promptlearn.pet.config import PetConfig
from promptlearn.run.config import RunConfig
from tests.helpers.fixtures import POOL_TASK, write_task


@pytest.fixture()
def pet_task(tmp_path):
    """10 train examples per label (2 shots + 2 dev per label leave a pool of 12), 2 test."""
    return write_task(tmp_path / "task", POOL_TASK)


def pet_config(model, data, base_changes: dict | None = None, **changes) -> PetConfig:
    """A 2-pattern, 1-repetition pipeline of 2-step runs; ``base_changes`` go to the runs' config."""
    base = RunConfig(
        model=str(model), data=str(data), pattern="{text} it was [MASK] .",
        verbalizer={"positive": ["great"], "negative": ["terrible"]}, shots=2, max_steps=2, eval_every=1,
        batch_size=4, precision="fp32",
    ).replace(**(base_changes or {}))  # fmt: skip
    values = {"patterns": ["{text} it was [MASK] .", "[MASK] : {text}"], "repetitions": 1, "final_steps": 2}
    return PetConfig(base=base, **(values | changes))
