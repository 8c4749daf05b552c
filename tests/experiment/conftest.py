"""The few-shot grid tests' task."""

from __future__ import annotations

import pytest

from tests.helpers.fewshot import NEGATIVE, POSITIVE
from tests.helpers.fixtures import write_task


@pytest.fixture()
def task_dir(tmp_path):
    """8 train examples per label (enough for K=2 train + K=2 dev per label), 6 test examples."""
    train = [{"text": f"the movie was {w}", "label": "positive"} for w in POSITIVE]
    train += [{"text": f"the film was {w}", "label": "negative"} for w in NEGATIVE]
    test = [{"text": f"it was {w}", "label": label} for w, label in [("fun", "positive"), ("good", "positive"),
            ("great", "positive"), ("bad", "negative"), ("boring", "negative"), ("awful", "negative")]]  # fmt: skip
    return write_task(tmp_path / "toy", {"train": train, "test": test})
