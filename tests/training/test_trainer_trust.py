"""The trainer's numbers can be trusted: what decays, precision switches, complete weight loads,
bf16 outside autocast, divergence, progress output and byte-identical run folders."""

from __future__ import annotations

import io
import json
import logging
import math
import os
import pty

import pytest
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

import promptlearn.cli as cli
from promptlearn import api
from promptlearn.data.examples import load_task_data
from promptlearn.errors import PromptlearnError
from tests.helpers.fixtures import record_optimizers
from tests.helpers.modes import tiny_config


def fit(config):
    data = load_task_data(config.data)
    run = api.build(config, data)
    train = run.pvp.encode(data.splits["train"])
    return run, run.trainer.fit(train, run.pvp.encode(data.splits["dev"]))


# Item 6: what weight decay spares, by tensor name, written out independently of the modes' code.
SPARED = {
    "pet": lambda name, p: name.endswith(".bias") or "LayerNorm" in name,
    "bitfit": lambda name, p: True,  # it trains biases only
    "soft_prompt": lambda name, p: True,  # it trains the prompt only
    "ptuning_v2": lambda name, p: name == "mode.prefix.prefix",
}


@pytest.mark.parametrize("mode", sorted(SPARED))
def test_weight_decay_spares_biases_norms_prompts_and_prefixes(mode, tiny_bert_dir, tiny_task_dir, monkeypatch):
    optimizers = record_optimizers(monkeypatch)
    run, _ = fit(tiny_config(tiny_bert_dir, tiny_task_dir, mode, max_steps=1, weight_decay=0.1))
    (optimizer,) = optimizers
    decay = {id(p): group["weight_decay"] for group in optimizer.param_groups for p in group["params"]}
    trained = {name: p for name, p in run.model.named_parameters() if p.requires_grad}
    assert set(decay) == {id(p) for p in trained.values()}
    expected = {name: 0.0 if SPARED[mode](name, p) else 0.1 for name, p in trained.items()}
    assert {name: decay[id(p)] for name, p in trained.items()} == expected
    assert 0.0 in expected.values()


# Item 7: one accelerator per run (the step count under `accelerate launch` is in test_multiprocess.py).
def test_runs_with_other_precisions_follow_one_another_in_one_process(tiny_bert_dir, tiny_task_dir):
    first = api.build(tiny_config(tiny_bert_dir, tiny_task_dir, "soft_prompt", precision="fp32"))
    second = api.build(tiny_config(tiny_bert_dir, tiny_task_dir, "soft_prompt", precision="bf16"))
    data = load_task_data(str(tiny_task_dir))
    train = first.pvp.encode(data.splits["train"])
    for run in (first, second, first):
        assert run.trainer.fit(train, train).steps == 3
    # Each run still predicts in its own precision, whichever ran last.
    batch = first.pvp.collate(train)
    with torch.no_grad():
        fp32 = torch.softmax(first.model(batch), dim=-1).numpy()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = torch.softmax(second.model(batch).float(), dim=-1).numpy()
    assert first.trainer.predict_proba(train) == pytest.approx(fp32, abs=1e-6)
    assert second.trainer.predict_proba(train) == pytest.approx(bf16, abs=1e-6)


# Item 8: partial weight loads.
def test_a_weights_file_missing_a_trained_tensor_is_refused(tiny_bert_dir, tiny_task_dir, tmp_path):
    config = tiny_config(tiny_bert_dir, tiny_task_dir, "bitfit", max_steps=2)
    api.train(config, tmp_path / "run")
    weights = tmp_path / "run" / api.WEIGHTS
    state = load_file(weights)
    dropped = sorted(state)[0]
    del state[dropped]
    save_file(state, weights)
    with pytest.raises(PromptlearnError, match=rf"lacks 1 of the {len(state) + 1} tensors .*{dropped}"):
        api.load_run(tmp_path / "run")


def test_restoring_the_best_weights_checks_every_trained_tensor(tiny_bert_dir, tiny_task_dir):
    from promptlearn.training.trainer import restore_trained

    run = api.build(tiny_config(tiny_bert_dir, tiny_task_dir, "soft_prompt"))
    with pytest.raises(PromptlearnError, match=r"best weights lacks 1 of the 1 tensors .*mode\.prompt"):
        restore_trained(run.model, {}, "best weights")
    with pytest.raises(PromptlearnError, match="does not have: nonsense"):
        restore_trained(run.model, {"mode.prompt": run.model.mode.prompt.detach(), "nonsense": torch.ones(1)}, "x")


# Item 9: bf16 outside autocast.
@pytest.mark.parametrize("mode", ["soft_prompt", "bitfit"])
def test_a_bf16_model_runs_inside_and_outside_autocast(mode, tiny_bert_dir, tiny_task_dir):
    run = api.build(tiny_config(tiny_bert_dir, tiny_task_dir, mode, precision="bf16"))
    query = run.model.backbone.bert.encoder.layer[0].attention.self.query
    assert query.weight.dtype == torch.bfloat16  # frozen linears are stored in bf16
    data = load_task_data(str(tiny_task_dir))
    batch = run.pvp.collate(run.pvp.encode(data.splits["train"]))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        inside = run.model(batch)
    outside = run.model(batch)  # crashed: "mat1 and mat2 must have the same dtype"
    outside.sum().backward()  # gradients reach the fp32 trained tensors (BitFit: biases of bf16 linears)
    assert all(p.grad is not None for p in run.model.parameters() if p.requires_grad)
    assert outside.dtype == torch.float32
    assert torch.allclose(inside.float(), outside, atol=0.05)


def test_pretrain_prompt_runs_in_bf16(tiny_bert_dir, tmp_path):
    from promptlearn.ppt.config import PretrainConfig
    from promptlearn.ppt.pretrain import pretrain
    from tests.helpers.fixtures import write_corpus

    config = PretrainConfig(
        model=str(tiny_bert_dir), corpus=str(write_corpus(tmp_path / "corpus.txt")), format="sentence-pair",
        prompt_length=2, steps=2, batch_size=2, max_length=32, eval_every=2, heldout_every=5, heldout_size=4,
        precision="bf16",
    )  # fmt: skip
    report = pretrain(config, tmp_path / "out")
    assert len(report["history"]) == 2
    assert (tmp_path / "out" / "prompt.safetensors").is_file()


# Item 11: divergence stops training, nothing is written, every JSON is strict.
def test_a_diverging_run_stops_with_advice_and_writes_nothing(tiny_bert_dir, tiny_task_dir, tmp_path):
    args = ["train", "--model", tiny_bert_dir, "--data", tiny_task_dir, "--pattern", "It was [MASK].",
            "--verbalizer", "positive=great,negative=terrible", "--max-steps", 20, "--batch-size", 3,
            "--lr", 1e6, "--output", tmp_path / "run"]  # fmt: skip
    result = CliRunner().invoke(cli.app, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    assert "Training diverged: the loss became nan at step" in result.output
    assert "Lower --lr (learning rates: model 1e+06), e.g. tenfold" in result.output
    assert "Traceback" not in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["tiny-task"]  # no run folder, no staging folder


def test_on_a_gpu_divergence_is_found_at_the_next_evaluation_and_named_alike(
    tiny_bert_dir, tiny_task_dir, tmp_path, monkeypatch
):
    from promptlearn.training import trainer

    config = tiny_config(tiny_bert_dir, tiny_task_dir, "pet", learning_rate=1e6, max_steps=20, eval_every=5)
    messages = []
    for every_step in (True, False):  # False: the GPU path, run on CPU
        monkeypatch.setattr(trainer, "checks_every_step", lambda device, every_step=every_step: every_step)
        with pytest.raises(PromptlearnError, match=r"loss became nan at step \d+\. Lower --lr") as raised:
            api.train(config, tmp_path / "run")
        messages.append(str(raised.value))
    assert messages[0] == messages[1]
    assert not (tmp_path / "run").exists()


def test_json_output_refuses_non_finite_numbers(tmp_path):
    from promptlearn.outputs import to_json, write_json_atomic

    with pytest.raises(PromptlearnError, match=r"m\.json: value\['training'\]\['history'\]\[1\]\['loss'\] is nan"):
        write_json_atomic(tmp_path / "m.json", {"training": {"history": [{"loss": 0.5}, {"loss": math.nan}]}})
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(PromptlearnError, match=r"write JSON: value\[0\] is inf, not a finite number"):
        to_json([math.inf])
    assert json.loads(to_json({"a": [1.5, None]})) == {"a": [1.5, None]}


# Item 20: progress on a terminal, log lines elsewhere, nothing with --quiet.
class Terminal(io.StringIO):
    """A terminal that reports its size as 0 x 0 (a fresh pseudo-terminal's, as under `script`)."""

    def __init__(self):
        super().__init__()
        self.fds = pty.openpty()

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fds[1]

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        super().close()


def test_a_terminal_gets_a_bar_with_step_loss_dev_accuracy_and_eta(
    tiny_bert_dir, tiny_task_dir, monkeypatch, info_logging
):
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    fit(tiny_config(tiny_bert_dir, tiny_task_dir, "soft_prompt", max_steps=4, eval_every=2))
    frames = terminal.getvalue().split("\r")
    terminal.close()
    assert any("2/4" in f and "dev_acc=" in f and "loss=" in f and "<" in f for f in frames), frames


def test_elsewhere_each_evaluation_is_one_log_line(tiny_bert_dir, tiny_task_dir, caplog, info_logging):
    with caplog.at_level(logging.INFO, logger="promptlearn"):
        fit(tiny_config(tiny_bert_dir, tiny_task_dir, "soft_prompt", max_steps=4, eval_every=2))
    lines = [r.getMessage() for r in caplog.records if r.name == "promptlearn.training.progress"]
    assert len(lines) == 2
    assert lines[0].startswith("train soft_prompt step 2/4: loss ")
    assert "dev accuracy" in lines[1] and "left" in lines[1]


@pytest.mark.slow
def test_quiet_silences_training_output(tiny_bert_dir, tiny_task_dir, tmp_path, caplog, info_logging):
    args = ["train", "--model", tiny_bert_dir, "--data", tiny_task_dir, "--pattern", "It was [MASK].",
            "--verbalizer", "positive=great,negative=terrible", "--max-steps", 4, "--eval-every", 2,
            "--batch-size", 3, "--output", tmp_path / "run"]  # fmt: skip
    for quiet in (False, True):
        caplog.clear()
        info_logging.setLevel(logging.INFO)
        extra = ["--quiet", "--overwrite"] if quiet else []
        result = CliRunner().invoke(cli.app, [str(a) for a in args + extra])
        assert result.exit_code == 0, result.output
        shown = [r for r in caplog.records if r.name == "promptlearn.training.progress"]
        assert len(shown) == (0 if quiet else 2)


# Item 22: the same run twice gives the same bytes.
def test_identical_runs_write_identical_folders(tiny_bert_dir, tiny_task_dir, tmp_path):
    config = tiny_config(tiny_bert_dir, tiny_task_dir, "ptuning_v2", max_steps=4, eval_every=2)
    for name in ("a", "b"):
        api.train(config, tmp_path / name)
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in files:
        first, second = ((tmp_path / run / name).read_bytes() for run in "ab")
        if name == "metrics.json":
            first, second = (json.loads(m) for m in (first, second))
            assert first["training"].pop("wall_seconds") > 0
            second["training"].pop("wall_seconds")
        assert first == second, name


def test_a_diverging_prompt_pretraining_stops_and_leaves_no_prompt(tiny_bert_dir, tmp_path, monkeypatch):
    from promptlearn.ppt import pretrain as pretrain_module
    from tests.helpers.fixtures import write_corpus

    monkeypatch.setattr(pretrain_module, "_train_step", lambda *args: math.nan)
    config = pretrain_module.PretrainConfig(
        model=str(tiny_bert_dir), corpus=str(write_corpus(tmp_path / "corpus.txt")), format="sentence-pair",
        prompt_length=2, steps=2, batch_size=2, max_length=32, heldout_every=5, heldout_size=4, precision="fp32",
    )  # fmt: skip
    with pytest.raises(PromptlearnError, match=r"loss became nan at step 1\. Lower --lr"):
        pretrain_module.pretrain(config, tmp_path / "out")
    assert not (tmp_path / "out" / "prompt.safetensors").exists()


# Issue 20, item 19: a precision the device cannot train in.
@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU trains in fp16")
def test_fp16_on_cpu_is_refused_before_training_instead_of_training_in_fp32(tiny_bert_dir, tiny_task_dir, tmp_path):
    """accelerate trained in fp32 on CPU while evaluation autocast to fp16 and config.json said fp16."""
    with pytest.raises(PromptlearnError, match=r"--precision fp16 cannot train on this machine's cpu"):
        api.build(tiny_config(tiny_bert_dir, tiny_task_dir, "pet", precision="fp16"))
    args = ["train", "--model", tiny_bert_dir, "--data", tiny_task_dir, "--pattern", "It was [MASK].",
            "--verbalizer", "positive=great,negative=terrible", "--precision", "fp16",
            "--output", tmp_path / "run"]  # fmt: skip
    result = CliRunner().invoke(cli.app, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "run").exists()


# Issue 20, item 10: an optimizer step sums whole accumulation windows, never across an epoch's end.
SIX_TRAIN = [
    {"text": f"the {noun} was {word}", "label": label}
    for noun in ("movie", "film", "plot")
    for word, label in (("wonderful", "positive"), ("awful", "negative"))
]


def trained_without_dropout(config) -> tuple[dict[str, torch.Tensor], int]:
    data = load_task_data(config.data)
    run = api.build(config, data)
    for module in run.model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0  # micro-batches and one large batch draw dropout masks differently
    result = run.trainer.fit(run.pvp.encode(data.split("train")), [])
    return {name: p.detach().clone() for name, p in run.model.named_parameters() if p.requires_grad}, result.steps


def test_accumulated_micro_batches_train_exactly_like_the_large_batch(tiny_bert_dir, tmp_path):
    """6 examples in batches of 2 with 2 per step: each epoch is a window of 2 batches and one of 1, the
    same steps as batches of 4 (and the last, 2). Straddling windows or a half-weighted last one differ."""
    from tests.helpers.fixtures import TINY_TASK, write_task

    task = write_task(tmp_path / "six", {"train": SIX_TRAIN, "dev": TINY_TASK["dev"]})
    # no clipping: it would rescale a wrongly weighted step back to norm 1
    common = {"epochs": 2, "max_steps": None, "group_by_length": False, "learning_rate": 1e-3, "max_grad_norm": 1e9}
    large, large_steps = trained_without_dropout(tiny_config(tiny_bert_dir, task, "pet", batch_size=4, **common))
    small, small_steps = trained_without_dropout(
        tiny_config(tiny_bert_dir, task, "pet", batch_size=2, grad_accum=2, **common)
    )
    assert small_steps == large_steps == 4
    for name in large:
        torch.testing.assert_close(small[name], large[name], msg=name)
