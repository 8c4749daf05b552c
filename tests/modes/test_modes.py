"""What each mode trains and stores, its options, artifact sizes, and the incompatible-model error."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from promptlearn import api
from promptlearn.backbone import soft_prompts as prompts
from promptlearn.cli import app
from promptlearn.data.examples import load_task_data
from promptlearn.errors import PromptlearnError
from promptlearn.model.prompt_model import PromptModel
from promptlearn.modes import MODES, get_mode
from promptlearn.prompt.pattern import Pattern
from tests.helpers.fixtures import VOCAB, tiny_tokenizer
from tests.helpers.modes import declared_names, tiny_config

WORDS = [[VOCAB.index("great")], [VOCAB.index("terrible")]]


def build(model_dir, data_dir, mode: str, pattern: str = "{text} it was [MASK] .", **options):
    config = tiny_config(model_dir, data_dir, mode, pattern=pattern, mode_options=options)
    return api.build(config, load_task_data(str(data_dir)))


@pytest.mark.parametrize("fixture", ["tiny_bert_dir", "tiny_distilbert_dir"])
def test_mlm_head_trains_transform_layernorm_and_output_bias_only(fixture, request, tiny_task_dir):
    run = build(request.getfixturevalue(fixture), tiny_task_dir, "mlm_head")
    names = declared_names(run.model)
    expected = {
        "tiny_bert_dir": {
            "backbone.cls.predictions.transform.dense.weight",
            "backbone.cls.predictions.transform.dense.bias",
            "backbone.cls.predictions.transform.LayerNorm.weight",
            "backbone.cls.predictions.transform.LayerNorm.bias",
            "backbone.cls.predictions.bias",
        },
        "tiny_distilbert_dir": {
            "backbone.vocab_transform.weight",
            "backbone.vocab_transform.bias",
            "backbone.vocab_layer_norm.weight",
            "backbone.vocab_layer_norm.bias",
            "backbone.vocab_projector.bias",
        },
    }[fixture]
    assert names == expected
    assert not run.model.backbone.get_output_embeddings().weight.requires_grad


def test_bitfit_trains_biases_only_and_cls_readout_needs_no_verbalizer(tiny_bert_dir, tiny_task_dir):
    cloze = build(tiny_bert_dir, tiny_task_dir, "bitfit")
    assert all(name.endswith("bias") for name in declared_names(cloze.model))
    assert "backbone.cls.predictions.bias" in declared_names(cloze.model)
    cls = api.build(
        tiny_config(tiny_bert_dir, tiny_task_dir, "bitfit", verbalizer=None, mode_options={"readout": "cls"}),
        load_task_data(str(tiny_task_dir)),
    )
    names = declared_names(cls.model)
    assert {"mode.head.linear.weight", "mode.head.linear.bias"} <= names
    assert not any(name.startswith("backbone.cls") for name in names)
    assert all(name.endswith("bias") for name in names - {"mode.head.linear.weight"})


def test_head_modes_read_the_bare_text_and_train_the_head(tiny_bert_dir, tiny_task_dir):
    run = build(tiny_bert_dir, tiny_task_dir, "head", pooling="mean")
    encoded = run.pvp.encode(load_task_data(str(tiny_task_dir)).split("train"))[0]
    assert run.pvp.tokens(encoded) == ["[CLS]", "the", "movie", "was", "wonderful", "[SEP]"]
    assert declared_names(run.model) == {"mode.head.linear.weight", "mode.head.linear.bias"}
    assert run.model.mode.head.pooling == "mean"
    finetune = build(tiny_bert_dir, tiny_task_dir, "finetune")
    trained = declared_names(finetune.model)
    assert "mode.head.linear.weight" in trained
    assert "backbone.bert.embeddings.word_embeddings.weight" in trained
    assert not any(name.startswith("backbone.cls.predictions.transform") for name in trained)


def test_pattern_inputs_only_keeps_both_slots_of_a_pair():
    plain = Pattern.parse("{text_a} ? [MASK] , {text_b}").inputs_only()
    assert plain.source == "{text_a} [SEP] {text_b}"
    assert plain.fields == {"text_a", "text_b"}


def test_soft_prompt_is_one_named_parameter_prepended_when_the_pattern_has_none(tiny_bert_dir, tiny_task_dir):
    run = build(tiny_bert_dir, tiny_task_dir, "soft_prompt", prompt_length=4)
    assert declared_names(run.model) == {"mode.prompt"}
    assert run.model.mode.prompt.shape == (4, 32)
    encoded = run.pvp.encode(load_task_data(str(tiny_task_dir)).split("train"))[0]
    assert encoded.soft_positions == [1, 2, 3, 4]


def test_soft_prompt_fills_the_patterns_soft_slots(tiny_bert_dir, tiny_task_dir):
    run = build(tiny_bert_dir, tiny_task_dir, "soft_prompt", pattern="[SOFT:2] {text} [SOFT] it was [MASK] .")
    batch = run.pvp.collate(run.pvp.encode(load_task_data(str(tiny_task_dir)).split("train")))
    embeds = run.model.mode.embed(run.model, batch)
    rows = torch.arange(len(batch["input_ids"]))[:, None]
    assert torch.equal(embeds[rows, batch["soft_positions"]], run.model.mode.prompt.expand(3, -1, -1))
    with pytest.raises(PromptlearnError, match="has 3 \\[SOFT\\] tokens"):
        build(tiny_bert_dir, tiny_task_dir, "soft_prompt", pattern="[SOFT:3] {text} [MASK] .", prompt_length=5)


def test_vocab_init_samples_real_tokens_never_the_first_rows(tiny_bert_dir, tiny_task_dir):
    run = build(tiny_bert_dir, tiny_task_dir, "soft_prompt", prompt_length=6)
    table = run.model.word_embeddings.weight
    rows = [int((table - row).abs().sum(dim=1).argmin()) for row in run.model.mode.prompt]
    special = set(tiny_tokenizer().all_special_ids)
    assert len(set(rows)) == 6 and not special & set(rows)
    assert rows != list(range(6))
    assert prompts.real_token_ids(tiny_tokenizer())[0] == VOCAB.index("great")


def test_text_random_and_file_inits(tiny_bert_dir, tiny_task_dir, tmp_path):
    text = build(tiny_bert_dir, tiny_task_dir, "soft_prompt", prompt_length=3, init='text:"great movie"')
    table = text.model.word_embeddings.weight
    expected = table[[VOCAB.index("great"), VOCAB.index("movie"), VOCAB.index("great")]]
    assert torch.equal(text.model.mode.prompt.detach(), expected)
    random = build(tiny_bert_dir, tiny_task_dir, "soft_prompt", prompt_length=3, init="random")
    assert random.model.mode.prompt.shape == (3, 32)

    saved = tmp_path / "prompt.safetensors"
    save_file({"anything": torch.arange(96.0).reshape(3, 32)}, saved)
    loaded = build(tiny_bert_dir, tiny_task_dir, "soft_prompt", init=f"file:{saved}")
    assert torch.equal(loaded.model.mode.prompt.detach(), torch.arange(96.0).reshape(3, 32))
    with pytest.raises(PromptlearnError, match="shape \\(3, 32\\), but this run needs \\(4, 32\\)"):
        build(tiny_bert_dir, tiny_task_dir, "soft_prompt", pattern="[SOFT:4] {text} [MASK] .", init=f"file:{saved}")
    for bad in ("first", "file:/no/such/prompt", "text:"):
        with pytest.raises(PromptlearnError, match="--init"):
            get_mode("soft_prompt").from_options({"init": bad})


def test_ptuning_run_stores_encoder_and_its_output_prompt(tiny_bert_dir, tiny_task_dir, tmp_path):
    api.train(tiny_config(tiny_bert_dir, tiny_task_dir, "ptuning", mode_options={"prompt_length": 3}), tmp_path / "r")
    stored = load_file(tmp_path / "r" / api.WEIGHTS)
    assert any(name.startswith("mode.encoder.lstm.") for name in stored)
    assert "mode.encoder.embedding" in stored and "mode.prompt" in stored
    assert not any(name.startswith("backbone.") for name in stored)
    reloaded = api.load_run(tmp_path / "r").model.mode
    with torch.no_grad():
        assert torch.allclose(reloaded.encoder(), stored["mode.prompt"])
    assert torch.equal(prompts.load_prompt(tmp_path / "r"), stored["mode.prompt"])


def test_ptuning_tune_model_adds_the_model_group_at_its_own_rate(tiny_bert_dir, tiny_task_dir):
    run = build(tiny_bert_dir, tiny_task_dir, "ptuning", tune_model=True, model_lr=3e-5)
    groups = {g["name"]: g for g in run.model.mode.param_groups(run.model, 0.005)}
    assert (groups["encoder"]["lr"], groups["model"]["lr"], groups["model.no_decay"]["lr"]) == (0.005, 3e-5, 3e-5)
    model_params = groups["model"]["params"] + groups["model.no_decay"]["params"]
    assert len(model_params) == len(list(run.model.backbone.parameters()))
    with pytest.raises(PromptlearnError, match="needs --tune-model"):
        get_mode("ptuning").from_options({"model_lr": 1e-5})


def test_unknown_options_are_rejected():
    with pytest.raises(PromptlearnError, match="does not take --readout"):
        get_mode("head").from_options({"readout": "cls"})
    with pytest.raises(PromptlearnError, match="--pooling must be one of"):
        get_mode("finetune").from_options({"pooling": "max"})


@pytest.mark.parametrize("mode", ["soft_prompt", "ptuning_v2", "bitfit", "head"])
def test_parameter_efficient_artifacts_are_under_one_percent(mode):
    """On a model the size of bert-tiny (hidden 128, 2 layers, BERT's vocabulary), built at random."""
    if mode not in MODES:
        pytest.skip(f"mode {mode} is not registered on this branch")
    from transformers import BertConfig, BertForMaskedLM

    config = BertConfig(hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=512)
    backbone = BertForMaskedLM(config)
    instance = get_mode(mode).from_options({})
    instance.adapt_pattern(Pattern.parse("{text} it was [MASK] ."))
    model = PromptModel(backbone, instance, WORDS, 2, tiny_tokenizer())
    artifact = sum(t.numel() * t.element_size() for t in instance.artifact_state(model).values())
    full = sum(p.numel() * p.element_size() for p in backbone.parameters())
    assert artifact < 0.01 * full


def other_model(folder, **changes):
    from transformers import BertConfig, BertForMaskedLM

    sizes = {"vocab_size": len(VOCAB), "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2}
    BertForMaskedLM(BertConfig(**(sizes | changes), intermediate_size=64, max_position_embeddings=64)).save_pretrained(
        folder
    )
    tiny_tokenizer().save_pretrained(folder)
    return folder


@pytest.mark.parametrize(
    ("mode", "change", "message"),
    [
        ("soft_prompt", {"hidden_size": 48}, "hidden_size 32 \\(model: 48\\)"),
        ("soft_prompt", {"vocab_size": len(VOCAB) + 8}, "vocab_size 42 \\(model: 50\\)"),
        ("soft_prompt", {"num_hidden_layers": 3}, "num_layers 2 \\(model: 3\\)"),
        ("bitfit", {"num_hidden_layers": 3}, "num_layers 2 \\(model: 3\\)"),
    ],
)
def test_loading_onto_an_incompatible_base_model_is_a_clear_error(
    mode, change, message, tiny_bert_dir, tiny_task_dir, tmp_path
):
    api.train(tiny_config(tiny_bert_dir, tiny_task_dir, mode, max_steps=1), tmp_path / "run")
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    config["model"] = str(other_model(tmp_path / "other", **change))
    (tmp_path / "run" / "config.json").write_text(json.dumps(config))
    with pytest.raises(PromptlearnError, match=f"does not fit the base model.*{message}"):
        api.load_run(tmp_path / "run")


def test_modes_command_lists_every_mode_with_counts(tiny_bert_dir):
    result = CliRunner().invoke(app, ["modes", "--model", str(tiny_bert_dir)])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()[1:]}
    assert set(lines) == set(MODES)
    assert "prompt=0.01" in lines["soft_prompt"]
    soft_trainable = lines["soft_prompt"].split("head=0.01")[1].split()[0]  # the column after the rates
    assert soft_trainable == f"{prompts.DEFAULT_PROMPT_LENGTH * 32:,}"


@pytest.mark.parametrize(
    ("name", "bare_text"), [("bitfit", True), ("lora", True), ("adapter", True), ("ptuning_v2", False)]
)
def test_readout_cls_encodes_the_bare_text_except_in_ptuning_v2(name, bare_text):
    pattern = Pattern.parse("{text} it was [MASK] .")
    assert pattern.inputs_only() != pattern
    assert get_mode(name).from_options({}).adapt_pattern(pattern) == pattern  # cloze: the pattern, always
    cls = get_mode(name).from_options({"readout": "cls"}).adapt_pattern(pattern)
    assert cls == (pattern.inputs_only() if bare_text else pattern)


@pytest.mark.parametrize("name", ["bitfit", "lora", "adapter", "ptuning_v2", "soft_prompt", "ptuning"])
def test_every_readout_mode_rejects_an_unknown_readout_with_the_choices(name):
    with pytest.raises(PromptlearnError, match=r"--readout must be one of cloze, cls, warp .*got 'pooler'"):
        get_mode(name).from_options({"readout": "pooler"})
