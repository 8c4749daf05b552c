"""Tiny, offline fixtures: random masked LMs with a fixture vocabulary, tiny tasks, a tiny corpus.

Plain functions, no pytest: the tests (through conftest.py's fixtures) and scripts/golden_runs.py
build the same models and data from here, so the golden run folders are made of what the tests use.
Nothing here downloads: models are built from small configs and saved to a folder, so code under test
loads them through the same ``from_pretrained(folder)`` path users take.
"""

from __future__ import annotations

import json
import os
import random
import socket
import tempfile
from pathlib import Path

import pytest
import torch

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

#: a multi-label task in the fixture vocabulary: each text names its topics, one or two of three
TINY_MULTI_LABEL_TASK = {
    "train": [
        {"text": "sports news", "labels": ["sports"]},
        {"text": "world news", "labels": ["world"]},
        {"text": "business news", "labels": ["business"]},
        {"text": "sports and world", "labels": ["sports", "world"]},
        {"text": "world business", "labels": ["world", "business"]},
        {"text": "the sports business", "labels": ["sports", "business"]},
    ],
    "dev": [
        {"text": "the sports story", "labels": ["sports"]},
        {"text": "the world story", "labels": ["world"]},
        {"text": "business and sports", "labels": ["business", "sports"]},
    ],
    "test": [
        {"text": "sports", "labels": ["sports"]},
        {"text": "a world story", "labels": ["world"]},
        {"text": "world and business news", "labels": ["world", "business"]},
    ],
}
#: its label words (one token each, as multi-label needs)
TINY_MULTI_LABEL_WORDS = {"sports": ["sports"], "world": ["world"], "business": ["business"]}


def tiny_tokenizer():
    """A lower-casing WordPiece tokenizer of :data:`VOCAB`, read from a ``vocab.txt`` as a saved one is.

    The one way that builds it on every transformers version the floor test (.ci/run) tries: 5.x
    ignores ``vocab_file=``, 4.x has no ``vocab=``, and 5.0 does not lower-case unless told.
    """
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


def write_task(folder: Path, splits: dict[str, list[dict]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in splits.items():
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def save_tiny_model(folder: Path, arch: str) -> Path:
    """``folder`` (created) holding the random masked LM ``TINY_MODELS[arch]`` and the fixture tokenizer."""
    folder.mkdir(parents=True, exist_ok=True)
    TINY_MODELS[arch]().save_pretrained(folder)
    tiny_tokenizer().save_pretrained(folder)
    return folder


def save_tiny_sentence_encoder(folder: Path, pooling: str = "mean", normalize: bool = True) -> Path:
    """``folder`` laid out as a sentence-transformers model (all-MiniLM-L6-v2's layout): a plain random
    ``BertModel``, no MLM head, its tokenizer, ``modules.json`` and the pooling module's configuration."""
    from transformers import BertModel

    folder.mkdir(parents=True, exist_ok=True)
    BertModel(tiny_bert().config).save_pretrained(folder)
    tiny_tokenizer().save_pretrained(folder)
    modules = [("Transformer", ""), ("Pooling", "1_Pooling")] + ([("Normalize", "2_Normalize")] if normalize else [])
    entries = [
        {"idx": i, "name": str(i), "path": path, "type": f"sentence_transformers.models.{kind}"}
        for i, (kind, path) in enumerate(modules)
    ]
    (folder / "modules.json").write_text(json.dumps(entries))
    (folder / "1_Pooling").mkdir(exist_ok=True)
    modes = {"pooling_mode_cls_token": pooling == "cls", "pooling_mode_mean_tokens": pooling == "mean"}
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 32, **modes}))
    return folder


POSITIVE = ["wonderful", "great", "good", "fun", "loved"]
NEGATIVE = ["awful", "terrible", "bad", "boring", "hated"]


def _rows(words: list[str], label: str, subjects=("movie", "film")) -> list[dict]:
    return [{"text": f"the {s} was {w}", "label": label} for w in words for s in subjects]


#: 10 train examples per label (2 shots + 2 dev per label leave an unlabelled pool of 12), 2 test
POOL_TASK = {
    "train": _rows(POSITIVE, "positive") + _rows(NEGATIVE, "negative"),
    "test": _rows(["fun"], "positive", ("story",)) + _rows(["boring"], "negative", ("story",)),
}


WORDS = ["the", "movie", "film", "plot", "story", "acting", "was", "is", "very", "really", "fun", "boring"]


def write_corpus(path, documents: int = 40, seed: int = 0):
    """Documents of 3-6 sentences; sentence ``k`` of document ``d`` starts with the tag ``dDsK``."""
    rng = random.Random(seed)
    lines = []
    for d in range(documents):
        sentences = []
        for k in range(rng.randint(3, 6)):
            cue = rng.choice(["profits rose", "sales fell", "output gained", "exports declined", ""])
            body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 8)))
            sentences.append(f"D{d}S{k} {body} {cue}.".replace(" .", "."))
        lines.append(" ".join(sentences))
        if d % 7 == 0:
            lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


REPO = Path(__file__).resolve().parents[2]


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


def require_shared(marker: Path, what: str) -> None:
    """Skip a test whose ../shared file ``marker`` is absent; under CI (``CI`` set) fail instead:
    CI has ../shared beside the repo, so a missing file there means the real-model tests would silently not run."""
    if marker.is_file():
        return
    missing(f"{what} not found at {marker.parent} (needs the shared/ folder beside the repo)")


def missing(message: str) -> None:
    """Skip a test that needs something this machine lacks; under CI (``CI`` set), where it must run, fail."""
    if os.environ.get("CI", "").lower() not in {"", "0", "false", "no"}:
        pytest.fail(f"{message}; CI is set, so the tests that need it fail instead of skipping")
    pytest.skip(message)


def tiny_modernbert(seed: int = 0):
    """A random ModernBertForMaskedLM (sdpa attention on CPU: no flash-attn needed)."""
    from transformers import ModernBertConfig, ModernBertForMaskedLM

    torch.manual_seed(seed)
    config = ModernBertConfig(
        vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=64, pad_token_id=0, cls_token_id=2, sep_token_id=3, bos_token_id=2, eos_token_id=3,
        global_attn_every_n_layers=1, local_attention=16,
    )  # fmt: skip
    return ModernBertForMaskedLM(config)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
