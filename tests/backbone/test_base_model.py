"""The base model must be the right one: an MLM head for cloze modes, and the model an artifact was trained on."""

from __future__ import annotations

import json

import pytest
from safetensors import safe_open
from typer.testing import CliRunner

from promptlearn import api
from promptlearn.cli import app
from promptlearn.data.examples import load_task_data
from promptlearn.errors import PromptlearnError
from tests.helpers.fixtures import tiny_bert, tiny_tokenizer
from tests.helpers.modes import tiny_config


@pytest.fixture(scope="module")
def plain_bert_dir(tmp_path_factory):
    """A saved ``BertModel``: the encoder of the tiny BERT, without its MLM head."""
    folder = tmp_path_factory.mktemp("plain-bert")
    tiny_bert().bert.save_pretrained(folder)
    tiny_tokenizer().save_pretrained(folder)
    return folder


@pytest.mark.parametrize("mode", ["pet", "soft_prompt", "mlm_head"])
def test_cloze_modes_refuse_a_checkpoint_without_an_mlm_head(mode, plain_bert_dir, tiny_task_dir):
    with pytest.raises(PromptlearnError, match=r"has no trained masked-LM head .*cls\.predictions"):
        api.build(tiny_config(plain_bert_dir, tiny_task_dir, mode))


@pytest.mark.parametrize("mode", ["head", "finetune"])
def test_classification_head_modes_accept_an_encoder_checkpoint(mode, plain_bert_dir, tiny_task_dir):
    run = api.build(tiny_config(plain_bert_dir, tiny_task_dir, mode), load_task_data(str(tiny_task_dir)))
    assert run.model.backbone.bert.embeddings.word_embeddings.weight.abs().sum() > 0


def test_a_checkpoint_with_its_tied_mlm_head_loads(tiny_bert_dir, tiny_task_dir):
    api.build(tiny_config(tiny_bert_dir, tiny_task_dir, "pet"))


def retarget(run, model_dir) -> None:
    """Point a run folder at another base model (what a user does by editing config.json or moving folders)."""
    path = run / "config.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | {"model": str(model_dir)}))


@pytest.fixture(scope="module")
def reseeded_bert_dir(tmp_path_factory):
    """A model of exactly the tiny BERT's shape and config, with other weights."""
    folder = tmp_path_factory.mktemp("reseeded-bert")
    tiny_bert(seed=1).save_pretrained(folder)
    tiny_tokenizer().save_pretrained(folder)
    return folder


@pytest.mark.parametrize("mode", ["soft_prompt", "bitfit"])
def test_a_run_refuses_a_same_shape_model_with_other_weights(
    mode, tiny_bert_dir, reseeded_bert_dir, tiny_task_dir, tmp_path
):
    run = tmp_path / "run"
    api.train(tiny_config(tiny_bert_dir, tiny_task_dir, mode, max_steps=1), run)
    with safe_open(run / "weights.safetensors", "pt") as handle:
        assert {"embedding_hash", "config_hash", "embedding_size"} <= set(handle.metadata())
    retarget(run, reseeded_bert_dir)
    with pytest.raises(PromptlearnError, match=r"whose word embeddings differ .*--allow-other-base"):
        api.load_run(run)
    assert api.load_run(run, allow_other_base=True).config.model == str(reseeded_bert_dir)


def test_the_fingerprint_is_of_the_base_model_before_training(tiny_bert_dir, tiny_task_dir, tmp_path):
    """pet trains the word embeddings themselves: the run still loads onto its own base model."""
    api.train(tiny_config(tiny_bert_dir, tiny_task_dir, "pet", max_steps=1), tmp_path / "run")
    api.load_run(tmp_path / "run")


@pytest.mark.slow
def test_evaluate_and_predict_refuse_another_base_unless_allowed(
    tiny_bert_dir, reseeded_bert_dir, tiny_task_dir, tmp_path
):
    run = tmp_path / "run"
    api.train(tiny_config(tiny_bert_dir, tiny_task_dir, "soft_prompt", max_steps=1), run)
    retarget(run, reseeded_bert_dir)
    runner = CliRunner()
    for command in (["evaluate", "--run", str(run)], ["predict", "--run", str(run)]):
        refused = runner.invoke(app, command, input='{"text": "it was fun"}\n')
        assert refused.exit_code == 2, refused.output
        assert "word embeddings differ" in refused.output and "Traceback" not in refused.output
        allowed = runner.invoke(app, [*command, "--allow-other-base"], input='{"text": "it was fun"}\n')
        assert allowed.exit_code == 0, allowed.output
