"""Shared fixtures: tiny random masked LMs with a fixture vocabulary, tiny tasks, the real bert-tiny; one thread.

The builders live in tests/helpers/fixtures.py (plain functions that scripts/golden_runs.py also uses);
test modules import them from there, never from here.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from tests.helpers.fixtures import (
    BERT_TINY,
    SHARED_DATA,
    TINY_MULTI_LABEL_TASK,
    TINY_TASK,
    require_shared,
    save_tiny_model,
    write_task,
)


def pytest_runtest_setup(item):
    """Every test, and every fixture it sets up, runs torch on one thread.

    The models here are tiny and train far faster on one thread than on a shared, oversubscribed CPU; and
    since the grid and bench runners set the thread count themselves, setting it before each test keeps one
    test from changing the next one's numbers. A hook rather than an autouse fixture: pytest builds module-
    and session-scoped fixtures (a pretrained prompt, a reference run) before any function-scoped one, and
    they must train on the thread count of the test that compares with them. Processes a test starts
    choose their own threads.
    """
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    """A saved random BertForMaskedLM (hidden 32, 2 layers) with the fixture vocabulary."""
    return save_tiny_model(tmp_path_factory.mktemp("tiny-bert"), "bert")


@pytest.fixture(scope="session")
def tiny_distilbert_dir(tmp_path_factory) -> Path:
    """A saved random DistilBertForMaskedLM with the fixture vocabulary (a second architecture)."""
    return save_tiny_model(tmp_path_factory.mktemp("tiny-distilbert"), "distilbert")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """``tiny_model_dir("roberta")``: a saved random masked LM of that architecture (see TINY_MODELS).

    Each architecture is saved once per session, in a folder of its own (not ``tiny_bert_dir``'s).
    """
    folders = {}

    def build(arch: str) -> Path:
        if arch not in folders:
            folders[arch] = save_tiny_model(tmp_path_factory.mktemp(f"tiny-{arch}"), arch)
        return folders[arch]

    return build


@pytest.fixture()
def tiny_task_dir(tmp_path) -> Path:
    """A separable 2-label task: 3 train, 2 dev, 4 test examples."""
    return write_task(tmp_path / "tiny-task", TINY_TASK)


@pytest.fixture
def tiny_multi_label_dir(tmp_path) -> Path:
    """A 3-label multi-label task (one or two labels per text): 6 train, 3 dev, 3 test examples."""
    return write_task(tmp_path / "tiny-multi-label", TINY_MULTI_LABEL_TASK)


@pytest.fixture(scope="session")
def bert_tiny_dir() -> Path:
    """The real pretrained bert-tiny from ../shared (skipped when absent, a failure under CI)."""
    require_shared(BERT_TINY / "model.safetensors", "real model")
    return BERT_TINY


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    require_shared(SHARED_DATA / "sst2" / "train.jsonl", "shared datasets")
    return SHARED_DATA


@pytest.fixture()
def info_logging():
    """promptlearn's loggers at INFO for one test (progress lines, thread choices), restored after it."""
    logger = logging.getLogger("promptlearn")
    level = logger.level
    logger.setLevel(logging.INFO)
    yield logger
    logger.setLevel(level)
