"""Prompts are word embeddings: E wide, not H, where the two differ (ALBERT, ELECTRA: E=16, H=32 here)."""

from __future__ import annotations

import pytest
import torch

from promptlearn.backbone.prompt_artifact import PromptArtifact, artifact_metadata
from promptlearn.data.examples import Example
from promptlearn.model.prompt_model import PromptModel
from promptlearn.modes import get_mode
from promptlearn.prompt.pattern import Pattern
from promptlearn.prompt.pvp import PVP
from promptlearn.prompt.verbalizer import Verbalizer
from tests.helpers.fixtures import TINY_MODELS, TINY_TASK, tiny_tokenizer

SENTIMENT = Verbalizer.parse("positive=great,negative=terrible")


def options(mode: str, backbone, folder) -> dict:
    if mode != "ppt":
        return {}
    prompt = backbone.get_input_embeddings().weight.detach()[5:9].clone()  # (4, E)
    metadata = artifact_metadata(backbone, "tiny", prompt_length="4")
    return {"prompt": str(PromptArtifact(prompt, metadata).save(folder / "prompt.safetensors"))}


@pytest.mark.parametrize(
    ("kind", "mode"),
    [(kind, mode) for kind in ("albert", "electra") for mode in ("soft_prompt", "ptuning", "ppt")]
    + [("electra", "ptuning_v2")],
)
def test_prompt_modes_train_on_models_whose_embeddings_are_narrower_than_hidden(kind, mode, tmp_path):
    backbone = TINY_MODELS[kind]()
    assert backbone.get_input_embeddings().embedding_dim == 16 != backbone.config.hidden_size == 32
    instance = get_mode(mode).from_options(options(mode, backbone, tmp_path))
    pattern = instance.adapt_pattern(Pattern.parse("{text} it was [MASK] ."))
    pvp = PVP(pattern, SENTIMENT, tiny_tokenizer(), max_length=48)
    model = PromptModel(backbone, instance, pvp.label_token_ids, 2, tiny_tokenizer())
    assert model.embedding_size == 16
    examples = [Example(row["text"], label=row["label"]) for row in TINY_TASK["train"]]
    batch = pvp.collate(pvp.encode(examples))
    loss = torch.nn.functional.cross_entropy(model(batch), batch["labels"])
    loss.backward()
    trained = [p for group in instance.param_groups(model, None) for p in group["params"]]
    assert trained and all(p.grad is not None and p.grad.abs().sum() > 0 for p in trained)
    prompt = instance.artifact_state(model).get("mode.prompt")
    if prompt is not None:  # soft_prompt and ptuning store an (n, E) prompt
        assert prompt.shape[1] == 16
