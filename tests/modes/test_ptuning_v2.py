"""ptuning_v2: deep key/value prefixes inside self-attention, cloze or [CLS] readout."""

from __future__ import annotations

import json
import math

import pytest
import torch

from promptlearn import api
from promptlearn.backbone.loading import load_tokenizer
from promptlearn.data.examples import load_task_data
from promptlearn.errors import PromptlearnError
from promptlearn.model.prompt_model import PromptModel
from promptlearn.modes import get_mode
from promptlearn.run.config import RunConfig
from tests.helpers.fixtures import tiny_bert, tiny_distilbert, tiny_tokenizer

LABEL_WORDS = [[5], [6]]  # "great", "terrible" in the fixture vocabulary
IDS = torch.tensor([[2, 14, 16, 13, 4, 3, 0, 0], [2, 14, 17, 13, 26, 24, 4, 3]])  # second row unpadded
BATCH = {
    "input_ids": IDS,
    "attention_mask": (IDS != 0).long(),
    "mask_positions": torch.tensor([4, 6]),
    "labels": torch.tensor([0, 1]),
}


def prompt_model(backbone=None, seed: int = 0, **options) -> PromptModel:
    backbone = backbone if backbone is not None else tiny_bert()
    torch.manual_seed(seed)  # after tiny_bert(), which seeds itself: the prefix init follows ``seed``
    mode = get_mode("ptuning_v2").from_options({"prompt_length": 4, **options})
    model = PromptModel(backbone, mode, LABEL_WORDS, 2, tiny_tokenizer())
    return model.eval()


def run_config(model_dir, data_dir, **changes) -> RunConfig:
    values = dict(
        model=str(model_dir),
        data=str(data_dir),
        pattern="{text} It was [MASK] .",
        verbalizer={"positive": ["great"], "negative": ["terrible"]},
        mode="ptuning_v2",
        max_steps=4,
        eval_every=2,
    )
    return RunConfig(**(values | changes))


@pytest.mark.parametrize("make_backbone", [tiny_bert, tiny_distilbert], ids=["bert", "distilbert"])
def test_output_changes_when_the_prefix_changes(make_backbone):
    model = prompt_model(make_backbone())
    before = model(BATCH)
    with torch.no_grad():
        model.mode.prefix.prefix.add_(1.0)
    assert not torch.allclose(before, model(BATCH), atol=1e-4)


def test_gradients_reach_the_prefix_and_its_mlp():
    model = prompt_model(prefix_projection=True, projection_hidden=8)
    model(BATCH).sum().backward()
    prefix = model.mode.prefix
    for name, param in [("prefix", prefix.prefix), *prefix.mlp.named_parameters()]:
        assert param.grad is not None and param.grad.abs().sum() > 0, name


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, {"mode.prefix.prefix"}),
        (
            {"prefix_projection": True, "readout": "cls"},
            {"mode.prefix.prefix", "mode.prefix.mlp.0.weight", "mode.prefix.mlp.0.bias", "mode.prefix.mlp.2.weight"}
            | {"mode.prefix.mlp.2.bias", "mode.head.linear.weight", "mode.head.linear.bias"},
        ),
    ],
)
def test_only_the_prefix_mlp_and_head_train(options, expected):
    model = prompt_model(**options)
    assert {name for name, p in model.named_parameters() if p.requires_grad} == expected
    assert set(model.mode.artifact_state(model)) == expected


def reference_logits(model: PromptModel, batch: dict, position_offset: int = 0) -> torch.Tensor:
    """BERT with prefix attention written out by hand; real tokens at positions offset .. offset + T - 1."""
    bert = model.backbone.bert
    ids, mask = batch["input_ids"], batch["attention_mask"]
    batch_size, length = ids.shape
    positions = torch.arange(position_offset, position_offset + length)[None]
    hidden = bert.embeddings(input_ids=ids, position_ids=positions)  # (B, T, H)
    prefixes = model.mode.prefix(batch_size)
    prefix_length = prefixes[0][0].size(2)
    additive = torch.cat([torch.ones(batch_size, prefix_length), mask.float()], dim=1)
    additive = (1.0 - additive)[:, None, None, :] * torch.finfo(torch.float32).min  # (B, 1, 1, P + T)
    head_dim = model.backbone.config.hidden_size // model.backbone.config.num_attention_heads

    def split(x):
        return x.view(batch_size, length, -1, head_dim).transpose(1, 2)  # (B, heads, T, d)

    for layer, (prefix_key, prefix_value) in zip(bert.encoder.layer, prefixes, strict=True):
        attention = layer.attention.self
        query = split(attention.query(hidden))
        key = torch.cat([prefix_key, split(attention.key(hidden))], dim=2)
        value = torch.cat([prefix_value, split(attention.value(hidden))], dim=2)
        scores = query @ key.transpose(-1, -2) / math.sqrt(head_dim) + additive
        context = (scores.softmax(-1) @ value).transpose(1, 2).reshape(batch_size, length, -1)
        hidden = layer.attention.output(context, hidden)
        hidden = layer.output(layer.intermediate(hidden), hidden)
    return model.cloze_scores(hidden, batch)


def test_matches_hand_written_prefix_attention_with_unshifted_positions():
    model = prompt_model()
    with torch.no_grad():
        logits = model(BATCH)
        assert torch.allclose(logits, reference_logits(model, BATCH), atol=1e-5)
        # the check is sensitive to positions: shifting them as past_key_values would gives other logits
        assert not torch.allclose(logits, reference_logits(model, BATCH, position_offset=4), atol=1e-3)


def test_sdpa_and_eager_attention_agree():
    model = prompt_model(prefix_projection=True, projection_hidden=8)
    assert model.backbone.config._attn_implementation == "sdpa"
    with torch.no_grad():
        sdpa = model(BATCH)
        model.backbone.set_attn_implementation("eager")
        eager = model(BATCH)
    assert torch.allclose(sdpa, eager, atol=1e-5)


def test_no_global_state_leaks():
    ids, mask = BATCH["input_ids"], BATCH["attention_mask"]
    untouched = tiny_bert().eval()
    with torch.no_grad():
        before = untouched.bert(input_ids=ids, attention_mask=mask).last_hidden_state
        first, second = prompt_model(seed=1), prompt_model(seed=2)
        assert untouched.bert.encoder.layer[0].attention.self.config is untouched.config
        assert torch.equal(untouched.bert(input_ids=ids, attention_mask=mask).last_hidden_state, before)
        # the prefixed backbone itself, called without prefixes, is the plain model
        assert torch.equal(first.backbone.bert(input_ids=ids, attention_mask=mask).last_hidden_state, before)
        first_logits, second_logits = first(BATCH), second(BATCH)
        assert not torch.allclose(first_logits, second_logits, atol=1e-4)
        assert torch.equal(first(BATCH), first_logits)


def test_bad_options_and_architectures_are_clear_errors():
    from transformers import AlbertConfig, AlbertForMaskedLM

    with pytest.raises(PromptlearnError, match="--prompt-length must be a positive integer"):
        get_mode("ptuning_v2").from_options({"prompt_length": 0})
    with pytest.raises(PromptlearnError, match="--readout must be one of cloze, cls, warp"):
        get_mode("ptuning_v2").from_options({"readout": "pooler"})
    albert = AlbertForMaskedLM(AlbertConfig(vocab_size=42, embedding_size=8, hidden_size=16, num_attention_heads=2))
    with pytest.raises(PromptlearnError, match=r"do not support 'albert'.*supported: bert, camembert, distilbert"):
        prompt_model(albert)


@pytest.mark.parametrize("options", [{}, {"readout": "cls", "prefix_projection": True}], ids=["cloze", "cls+mlp"])
def test_save_load_gives_identical_predictions(tiny_bert_dir, tiny_task_dir, tmp_path, options):
    config = run_config(tiny_bert_dir, tiny_task_dir, mode_options={"prompt_length": 4, **options})
    api.train(config, tmp_path / "run")
    loaded = api.load_run(tmp_path / "run")
    test = load_task_data(str(tiny_task_dir)).split("test")
    stored = (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()
    assert [r["probabilities"] for r in loaded.predict(test)] == [json.loads(line)["probabilities"] for line in stored]


@pytest.fixture(scope="module")
def fittable_bert_dir(tmp_path_factory):
    """The tiny BERT with larger random weights and no dropout: at 0.02, or with dropout noise, the
    [MASK] state of a random model hardly depends on the input, so a frozen one fits nothing."""
    folder = tmp_path_factory.mktemp("fittable-bert")
    backbone = tiny_bert(initializer_range=0.2)
    backbone.config.hidden_dropout_prob = backbone.config.attention_probs_dropout_prob = 0.0
    backbone.save_pretrained(folder)
    tiny_tokenizer().save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_fits_the_tiny_task(fittable_bert_dir, tiny_task_dir):
    config = run_config(fittable_bert_dir, tiny_task_dir, max_steps=100, eval_every=100, learning_rate=3e-2)
    run = api.build(config)
    train = load_task_data(str(tiny_task_dir)).split("train")
    run.trainer.fit(run.pvp.encode(train), [])
    assert run.evaluate(train)["accuracy"] == 1.0


def test_artifact_is_under_one_percent_of_bert_tiny(bert_tiny_dir):
    from transformers import AutoModelForMaskedLM

    backbone = AutoModelForMaskedLM.from_pretrained(bert_tiny_dir)
    model = PromptModel(backbone, get_mode("ptuning_v2")(), [[2307], [6659]], 2, load_tokenizer(str(bert_tiny_dir)))
    artifact = sum(t.numel() * t.element_size() for t in model.mode.artifact_state(model).values())
    full = sum(p.numel() * p.element_size() for p in backbone.parameters())
    assert artifact < 0.01 * full
