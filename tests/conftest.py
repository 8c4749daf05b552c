"""Shared fixtures: tiny random masked LMs with a fixture vocabulary, tiny tasks, the real bert-tiny.

The builders live in tests/fixtures.py (plain functions that scripts/golden_runs.py also uses); the
names test modules import from here are re-exported from there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from tests.fixtures import (  # noqa: F401  (re-exported: test modules import them from conftest)
    TINY_MODELS,
    TINY_TASK,
    VOCAB,
    save_tiny_model,
    tiny_albert,
    tiny_bert,
    tiny_distilbert,
    tiny_electra,
    tiny_roberta,
    tiny_tokenizer,
    write_task,
)

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
BERT_TINY = SHARED / "models" / "bert-tiny"
SHARED_DATA = SHARED / "data"


def record_optimizers(monkeypatch) -> list[torch.optim.Optimizer]:
    """Patch ``torch.optim.AdamW`` for this test; the list fills with every AdamW built, in order."""
    optimizers = []

    class RecordingAdamW(torch.optim.AdamW):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            optimizers.append(self)

    monkeypatch.setattr(torch.optim, "AdamW", RecordingAdamW)
    return optimizers


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


def require_shared(marker: Path, what: str) -> None:
    """Skip a test whose ../shared file ``marker`` is absent; under CI (``CI`` set) fail instead:
    CI has ../shared beside the repo, so a missing file there means the real-model tests would silently not run."""
    if marker.is_file():
        return
    message = f"{what} not found at {marker.parent} (needs the shared/ folder beside the repo)"
    if os.environ.get("CI", "").lower() not in {"", "0", "false", "no"}:
        pytest.fail(f"{message}; CI is set, so the tests that need it fail instead of skipping")
    pytest.skip(message)


@pytest.fixture(scope="session")
def bert_tiny_dir() -> Path:
    """The real pretrained bert-tiny from ../shared (skipped when absent, a failure under CI)."""
    require_shared(BERT_TINY / "model.safetensors", "real model")
    return BERT_TINY


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    require_shared(SHARED_DATA / "sst2" / "train.jsonl", "shared datasets")
    return SHARED_DATA
