"""Prompt pretraining end to end on a tiny model: resume after interruption, the artifact, reuse in ``ppt`` mode."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

import promptlearn.cli as cli
from promptlearn import api
from promptlearn.backbone.prompt_artifact import PromptArtifact
from promptlearn.errors import PromptlearnError
from promptlearn.ppt import pretrain as pretrain_module
from promptlearn.ppt.config import PretrainConfig
from promptlearn.ppt.pretrain import CHECKPOINT, pretrain
from promptlearn.run.config import RunConfig
from tests.helpers.fixtures import tiny_bert, tiny_tokenizer, write_corpus

LENGTH = 4


def config_for(model_dir, corpus, **changes) -> PretrainConfig:
    values = dict(
        model=str(model_dir), corpus=str(corpus), format="sentence-pair", prompt_length=LENGTH, steps=6,
        batch_size=4, max_length=48, eval_every=3, checkpoint_every=2, heldout_every=5, heldout_size=12,
        precision="fp32",
    )  # fmt: skip
    return PretrainConfig(**(values | changes))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("corpus") / "corpus.txt")


@pytest.fixture(scope="module")
def pretrained(tiny_bert_dir, corpus, tmp_path_factory):
    """An uninterrupted pretraining run: (output folder, report)."""
    output = tmp_path_factory.mktemp("pretrained") / "prompt"
    return output, pretrain(config_for(tiny_bert_dir, corpus), output)


def test_interrupted_pretraining_resumes_to_the_same_prompt(tiny_bert_dir, corpus, pretrained, tmp_path, monkeypatch):
    output = tmp_path / "prompt"
    real_step, calls = pretrain_module._train_step, []

    def interrupt_at_fifth(*args):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real_step(*args)

    monkeypatch.setattr(pretrain_module, "_train_step", interrupt_at_fifth)
    with pytest.raises(KeyboardInterrupt):
        pretrain(config_for(tiny_bert_dir, corpus), output)
    assert torch.load(output / CHECKPOINT, weights_only=True)["step"] == 4
    assert not (output / "prompt.safetensors").exists()  # nothing half-finished looks finished

    monkeypatch.setattr(pretrain_module, "_train_step", real_step)
    resumed = pretrain(config_for(tiny_bert_dir, corpus), output)
    reference_dir, reference = pretrained
    assert torch.equal(PromptArtifact.load(output).prompt, PromptArtifact.load(reference_dir).prompt)
    assert resumed["history"] == reference["history"]
    assert not (output / CHECKPOINT).exists()


def test_resume_with_other_settings_or_a_finished_output_is_refused(tiny_bert_dir, corpus, pretrained, tmp_path):
    output = tmp_path / "prompt"
    output.mkdir()
    torch.save({"config": config_for(tiny_bert_dir, corpus, steps=9).to_dict()}, output / CHECKPOINT)
    with pytest.raises(PromptlearnError, match=r"other settings.*steps"):
        pretrain(config_for(tiny_bert_dir, corpus), output)
    with pytest.raises(PromptlearnError, match="already holds a finished prompt"):
        pretrain(config_for(tiny_bert_dir, corpus), pretrained[0])


class _OpensAFile:
    """Unpickling this calls ``open(path, "w")``: the stand-in for a checkpoint crafted to run code."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return open, (str(self.path), "w")


def test_a_checkpoint_that_would_run_code_is_refused_unrun(tiny_bert_dir, corpus, tmp_path):
    output, ran = tmp_path / "prompt", tmp_path / "code-ran"
    output.mkdir()
    config = config_for(tiny_bert_dir, corpus).to_dict()
    torch.save({"config": config, "step": _OpensAFile(ran)}, output / CHECKPOINT)
    with pytest.raises(PromptlearnError, match=r"cannot be read as a pretraining checkpoint .*other than tensors"):
        pretrain(config_for(tiny_bert_dir, corpus), output)
    assert not ran.exists()


def test_a_truncated_checkpoint_is_one_line(tiny_bert_dir, corpus, tmp_path):
    output = tmp_path / "prompt"
    output.mkdir()
    torch.save({"config": config_for(tiny_bert_dir, corpus).to_dict(), "t": torch.zeros(512)}, output / CHECKPOINT)
    whole = (output / CHECKPOINT).read_bytes()
    (output / CHECKPOINT).write_bytes(whole[: len(whole) // 2])
    result = CliRunner().invoke(
        cli.app,
        ["pretrain-prompt", "-m", str(tiny_bert_dir), "--corpus", str(corpus), "--format", "sentence-pair",
         "--prompt-length", str(LENGTH), "-o", str(output)],
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: {output / CHECKPOINT} cannot be read as a pretraining checkpoint (")
    assert len(result.output.strip().splitlines()) == 1
    (output / CHECKPOINT).write_bytes(whole)  # whole, but not what pretraining saves
    with pytest.raises(PromptlearnError, match=r"no step, history, .* in it"):
        pretrain(config_for(tiny_bert_dir, corpus), output)


def test_artifact_round_trips_with_its_metadata(tiny_bert_dir, pretrained):
    output, report = pretrained
    artifact = PromptArtifact.load(output)
    assert artifact.prompt.shape == (LENGTH, 32)
    meta = artifact.metadata
    assert meta["base_model"] == str(tiny_bert_dir) and meta["hidden_size"] == "32"
    assert meta["prompt_length"] == str(LENGTH) and meta["format"] == "sentence-pair" and meta["steps"] == "6"
    assert "maybe" in meta["label_words"] and len(meta["config_hash"]) == 16
    assert 0 <= report["final_heldout"]["accuracy"] <= 1 and [h["step"] for h in report["history"]] == [0, 3, 6]

    copy = output.parent / "copy.safetensors"
    artifact.save(copy)
    again = PromptArtifact.load(copy)
    assert torch.equal(again.prompt, artifact.prompt) and again.metadata == artifact.metadata


def test_ppt_mode_starts_from_the_artifact_and_equals_soft_prompt_file_init(tiny_bert_dir, tiny_task_dir, pretrained):
    output, _ = pretrained
    prompt = PromptArtifact.load(output).prompt
    base = dict(model=str(tiny_bert_dir), data=str(tiny_task_dir), pattern="It was [MASK] .",
                verbalizer={"positive": ["great"], "negative": ["terrible"]}, max_steps=3, eval_every=3)  # fmt: skip
    ppt = api.build(RunConfig(mode="ppt", mode_options={"prompt": str(output)}, **base))
    via_file = api.build(
        RunConfig(mode="soft_prompt", mode_options={"init": f"file:{output / 'prompt.safetensors'}"}, **base)
    )
    assert torch.equal(ppt.model.mode.soft.prompt.detach(), prompt)
    assert torch.equal(via_file.model.mode.prompt.detach(), prompt)
    assert ppt.pvp.pattern.soft_count == LENGTH
    assert [n for n, p in ppt.model.named_parameters() if p.requires_grad] == ["mode.soft.prompt"]

    metrics = api.train(RunConfig(mode="ppt", mode_options={"prompt": str(output)}, **base), output.parent / "run")
    assert "test" in metrics
    stored = load_file(output.parent / "run" / "weights.safetensors")
    assert list(stored) == ["mode.soft.prompt"] and not torch.equal(stored["mode.soft.prompt"], prompt)
    assert api.load_run(output.parent / "run").config.mode == "ppt"


def _saved(model, folder):
    model.save_pretrained(folder)
    tiny_tokenizer().save_pretrained(folder)
    return str(folder)


def test_artifact_on_an_incompatible_model_is_a_clear_error(tiny_distilbert_dir, pretrained, tmp_path, tiny_task_dir):
    from transformers import BertConfig, BertForMaskedLM

    output, _ = pretrained
    narrow = BertConfig(vocab_size=42, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64)  # fmt: skip
    cases = {
        "width 32, but": _saved(BertForMaskedLM(narrow), tmp_path / "narrow"),
        "configuration differ": str(tiny_distilbert_dir),
        "word embeddings differ": _saved(tiny_bert(seed=1), tmp_path / "reseeded"),
    }
    for message, model in cases.items():
        config = RunConfig(model=model, data=str(tiny_task_dir), pattern="It was [MASK] .",
                           verbalizer={"positive": ["great"], "negative": ["terrible"]},
                           mode="ppt", mode_options={"prompt": str(output)})  # fmt: skip
        with pytest.raises(PromptlearnError, match=message):
            api.build(config)


def test_ppt_mode_needs_a_readable_prompt(tmp_path):
    from promptlearn.modes import get_mode

    with pytest.raises(PromptlearnError, match="needs --prompt"):
        get_mode("ppt").from_options({})
    with pytest.raises(PromptlearnError, match="does not exist"):
        get_mode("ppt").from_options({"prompt": str(tmp_path / "missing")})


def test_cli_documents_every_format_and_reports_bad_options(tmp_path):
    runner = CliRunner()
    shown = runner.invoke(cli.app, ["pretrain-prompt", "--help"], terminal_width=200)
    assert shown.exit_code == 0
    for name in ("sentence-pair", "multiple-choice", "single-sentence"):
        assert f"{name}:" in shown.output
    bad = runner.invoke(
        cli.app,
        ["pretrain-prompt", "-m", "x", "--corpus", "c.txt", "--format", "cloze", "-o", str(tmp_path / "o")],
    )
    assert bad.exit_code == 2 and "Unknown pretraining format" in bad.output


def test_soft_prompt_file_init_accepts_a_pretrain_prompt_folder(tiny_bert_dir, tmp_path):
    """``--mode soft_prompt --init file:DIR`` takes the same folder as ``--mode ppt --prompt DIR``."""
    from promptlearn.backbone.soft_prompts import load_prompt
    from tests.helpers.modes import contract_options

    artifact = Path(contract_options("ppt", tiny_bert_dir, tmp_path)["prompt"])
    assert artifact.parent == tmp_path
    from_folder = load_prompt(tmp_path)
    assert torch.equal(from_folder, load_prompt(artifact))
    assert from_folder.shape == (4, 32)
