"""Shared fixtures: tiny random masked LMs with a fixture vocabulary, tiny tasks, the real bert-tiny.

Nothing here downloads: models are built from small configs and saved to a temporary folder, so
code under test loads them through the same ``from_pretrained(folder)`` path users take.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
BERT_TINY = SHARED / "models" / "bert-tiny"
SHARED_DATA = SHARED / "data"

VOCAB = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    "great", "terrible", "good", "bad", "yes", "no", "maybe",
    "it", "was", "the", "a", "movie", "film", "plot", "acting", "story", "is", "?", ",", ".", "!",
    "wonderful", "awful", "boring", "fun", "loved", "hated", "really", "very", "not",
    "un", "##believ", "##able", "sports", "news", "world", "business",
]  # fmt: skip

TINY_TASK = {
    "train": [
        {"text": "the movie was wonderful", "label": "positive"},
        {"text": "the film was awful", "label": "negative"},
        {"text": "the plot is fun", "label": "positive"},
    ],
    "dev": [
        {"text": "the story was wonderful", "label": "positive"},
        {"text": "the acting was awful", "label": "negative"},
    ],
    "test": [
        {"text": "loved the movie", "label": "positive"},
        {"text": "hated the film", "label": "negative"},
        {"text": "it was fun", "label": "positive"},
        {"text": "it was boring", "label": "negative"},
    ],
}


def tiny_tokenizer():
    """A lower-casing WordPiece tokenizer of :data:`VOCAB`, read from a ``vocab.txt`` as a saved one is.

    The one way that builds it on every transformers version the floor test (.ci/run) tries: 5.x
    ignores ``vocab_file=``, 4.x has no ``vocab=``, and 5.0 does not lower-case unless told.
    """
    import tempfile

    from transformers import BertTokenizer

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
        return BertTokenizer.from_pretrained(folder, do_lower_case=True)


def tiny_bert(seed: int = 0, initializer_range: float = 0.02):
    """A random BertForMaskedLM. At BERT's initializer_range 0.02 its [MASK] state barely depends on
    the input, so modes that train only prompts cannot fit anything through it; 0.2 lets them."""
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64, initializer_range=initializer_range,
    )  # fmt: skip
    return BertForMaskedLM(config)


def tiny_distilbert(seed: int = 0):
    from transformers import DistilBertConfig, DistilBertForMaskedLM

    torch.manual_seed(seed)
    config = DistilBertConfig(
        vocab_size=len(VOCAB), dim=32, n_layers=2, n_heads=2, hidden_dim=64, max_position_embeddings=64,
    )  # fmt: skip
    return DistilBertForMaskedLM(config)


def tiny_roberta(seed: int = 0):
    from transformers import RobertaConfig, RobertaForMaskedLM

    torch.manual_seed(seed)
    config = RobertaConfig(
        vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=70, pad_token_id=0, bos_token_id=2, eos_token_id=3,
    )  # fmt: skip
    return RobertaForMaskedLM(config)


def tiny_albert(seed: int = 0):
    from transformers import AlbertConfig, AlbertForMaskedLM

    torch.manual_seed(seed)
    config = AlbertConfig(
        vocab_size=len(VOCAB), embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64, pad_token_id=0, bos_token_id=2, eos_token_id=3,
    )  # fmt: skip
    return AlbertForMaskedLM(config)


def tiny_electra(seed: int = 0):
    from transformers import ElectraConfig, ElectraForMaskedLM

    torch.manual_seed(seed)
    config = ElectraConfig(
        vocab_size=len(VOCAB), embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64,
    )  # fmt: skip
    return ElectraForMaskedLM(config)


#: builders of a random masked LM per architecture, all with the fixture vocabulary
TINY_MODELS = {
    "bert": tiny_bert, "roberta": tiny_roberta, "distilbert": tiny_distilbert,
    "albert": tiny_albert, "electra": tiny_electra,
}  # fmt: skip


def record_optimizers(monkeypatch) -> list[torch.optim.Optimizer]:
    """Patch ``torch.optim.AdamW`` for this test; the list fills with every AdamW built, in order."""
    optimizers = []

    class RecordingAdamW(torch.optim.AdamW):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            optimizers.append(self)

    monkeypatch.setattr(torch.optim, "AdamW", RecordingAdamW)
    return optimizers


def write_task(folder: Path, splits: dict[str, list[dict]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in splits.items():
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def save_tiny_model(tmp_path_factory, arch: str) -> Path:
    """A new temporary folder holding the random masked LM ``TINY_MODELS[arch]`` and the fixture tokenizer."""
    folder = tmp_path_factory.mktemp(f"tiny-{arch}")
    TINY_MODELS[arch]().save_pretrained(folder)
    tiny_tokenizer().save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    """A saved random BertForMaskedLM (hidden 32, 2 layers) with the fixture vocabulary."""
    return save_tiny_model(tmp_path_factory, "bert")


@pytest.fixture(scope="session")
def tiny_distilbert_dir(tmp_path_factory) -> Path:
    """A saved random DistilBertForMaskedLM with the fixture vocabulary (a second architecture)."""
    return save_tiny_model(tmp_path_factory, "distilbert")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """``tiny_model_dir("roberta")``: a saved random masked LM of that architecture (see TINY_MODELS).

    Each architecture is saved once per session, in a folder of its own (not ``tiny_bert_dir``'s).
    """
    folders = {}

    def build(arch: str) -> Path:
        if arch not in folders:
            folders[arch] = save_tiny_model(tmp_path_factory, arch)
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
