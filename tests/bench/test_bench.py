"""The benchmark harness: the naive baseline scores like promptlearn, and the report has its fields.

No timing is asserted here (a busy machine would make such a test flaky); timings belong in the
benchmark's output (docs/benchmarks.md).
"""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from promptlearn import api
from promptlearn.bench import BenchConfig, Case, naive, plain, plan, run_benchmark, runner, to_markdown
from promptlearn.bench.cases import build_backbone, run_case, synthetic_examples
from promptlearn.bench.measure import encoder_flops
from promptlearn.cli import app
from promptlearn.data.examples import Example
from promptlearn.errors import PromptlearnError
from promptlearn.run.config import RunConfig
from tests.helpers.fixtures import tiny_bert, write_task

PATTERN = "{text} it was [MASK] ."
WORDS = {"positive": ["great", "good"], "negative": ["terrible"]}


def small_config(model, **changes) -> BenchConfig:
    values = dict(model=str(model), modes=["pet"], batch_sizes=[2], seq_len=16, steps=2, warmup_steps=1,
                  pattern=PATTERN, verbalizer=WORDS, threads=1)  # fmt: skip
    return BenchConfig(**(values | changes))


@pytest.fixture()
def in_process(monkeypatch):
    """Run cases in this process: the orchestration is under test here, not process isolation."""
    monkeypatch.setattr(runner, "run_isolated", runner.measure)


def test_naive_baseline_scores_label_words_like_promptlearn(tiny_bert_dir):
    run = api.build(RunConfig(model=str(tiny_bert_dir), data="-", pattern=PATTERN, verbalizer=WORDS, max_length=32))
    texts = ["the movie was wonderful", "hated the film", "it was a really very boring story , not fun"]
    encoded = run.pvp.encode([Example(t, label="positive") for t in texts])
    baseline = naive.NaiveCloze(run.model.backbone, run.pvp.label_token_ids).eval()
    with torch.no_grad():
        ours = run.model(run.pvp.collate(encoded))  # dynamic padding, label words only
        theirs = baseline(naive.fixed_collate(run.pvp, 32)(encoded))  # full vocabulary, padded to 32
    assert ours.shape == theirs.shape == (3, 2)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_plain_reference_scores_like_the_naive_one(tiny_bert_dir):
    run = api.build(RunConfig(model=str(tiny_bert_dir), data="-", pattern=PATTERN, verbalizer=WORDS, max_length=32))
    texts = ["the movie was wonderful", "hated the film", "it was a really very boring story , not fun"]
    inputs = naive.fixed_collate(run.pvp, 32)([*run.pvp.encode([Example(t, label="positive") for t in texts])])
    reference = plain.PlainCloze(run.model.backbone, run.pvp.label_token_ids).eval()
    baseline = naive.NaiveCloze(run.model.backbone, run.pvp.label_token_ids).eval()
    with torch.no_grad():
        ours, theirs = reference(inputs), baseline(inputs)
    assert ours.shape == (3, 2)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    probs = plain.predict_proba(reference, inputs, batch_size=2, dtype=None)
    torch.testing.assert_close(torch.from_numpy(probs), torch.softmax(theirs, dim=-1), atol=1e-5, rtol=1e-5)


def test_plain_reference_trains_the_whole_model_with_fused_adamw(tiny_bert_dir, monkeypatch):
    run = api.build(RunConfig(model=str(tiny_bert_dir), data="-", pattern=PATTERN, verbalizer=WORDS, max_length=16))
    model = plain.PlainCloze(run.model.backbone, run.pvp.label_token_ids)
    model.requires_grad_(True)
    inputs = naive.fixed_collate(run.pvp, 16)(run.pvp.encode(synthetic_examples(6, ["positive", "negative"])))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizers = []
    monkeypatch.setattr(torch.optim, "AdamW", lambda *a, **k: optimizers.append(k) or torch.optim.Adam(*a, lr=k["lr"]))
    steps = []
    plain.train(model, inputs, batch_size=4, steps=3, dtype=None, on_step=steps.append)
    assert steps == [1, 2, 3]  # an epoch of 6 at batch 4 is two steps (the last one short): the third starts anew
    assert optimizers[0]["fused"] is True and optimizers[0]["weight_decay"] == 0.01
    assert all(not torch.equal(before[n], p) for n, p in model.named_parameters() if n.endswith("query.weight"))


def test_synthetic_examples_fill_the_sequence_length(tiny_bert_dir):
    run = api.build(RunConfig(model=str(tiny_bert_dir), data="-", pattern=PATTERN, verbalizer=WORDS, max_length=24))
    encoded = run.pvp.encode(synthetic_examples(4, ["positive", "negative"]))
    assert {len(e.input_ids) for e in encoded} == {24}
    assert [e.label for e in encoded] == [0, 1, 0, 1]


def test_random_weights_follow_the_config_and_the_seed(tiny_bert_dir):
    first = build_backbone(small_config(tiny_bert_dir, random_weights=True))
    again = build_backbone(small_config(tiny_bert_dir, random_weights=True))
    loaded = build_backbone(small_config(tiny_bert_dir))
    assert first.config.hidden_size == loaded.config.hidden_size == 32
    assert torch.equal(first.bert.encoder.layer[0].attention.self.query.weight,
                       again.bert.encoder.layer[0].attention.self.query.weight)  # fmt: skip
    assert not torch.equal(first.bert.encoder.layer[0].attention.self.query.weight,
                           loaded.bert.encoder.layer[0].attention.self.query.weight)  # fmt: skip


def test_plan_has_a_baseline_for_every_phase_and_batch_size(tiny_bert_dir):
    cases = plan(small_config(tiny_bert_dir, batch_sizes=[2, 4], compile="both", eval_data="x.jsonl"))
    for batch_size in (2, 4):
        for phase in ("train", "eval"):
            systems = [c.system for c in cases if c.batch_size == batch_size and c.phase == phase]
            assert systems == ["naive", "plain", "pet", "pet + compile"]
    assert [c.system for c in cases if c.phase == "eval_data"] == ["naive", "plain", "pet", "pet + compile"]
    only_plain = plan(small_config(tiny_bert_dir, references=["plain"]))
    assert [c.system for c in only_plain] == ["plain", "pet", "plain", "pet"]


@pytest.mark.slow
def test_report_rows_ratios_and_markdown(tiny_bert_dir, tiny_task_dir, in_process):
    data = str(tiny_task_dir / "test.jsonl")
    config = small_config(tiny_bert_dir, eval_data=data, eval_batch_size=2, eval_max_length=32)
    report = run_benchmark(config, command="promptlearn bench ...")
    assert set(report) == {"command", "environment", "settings", "wall_seconds", "results"}
    assert {"torch", "transformers", "accelerate", "python", "device", "cpu"} <= set(report["environment"])
    rows = {(r["phase"], r["system"]): r for r in report["results"]}
    assert set(rows) == {(p, s) for p in ("train", "eval", "eval_data") for s in ("naive", "plain", "pet")}
    for (phase, system), row in rows.items():
        assert "error" not in row, row
        assert row["examples_per_s"] > 0 and row["peak_memory_bytes"] >= 0
        assert row["trainable_parameters"] > 0 and row["non_embedding_parameters"] > 0
        assert "speedup" in row and "plain_speedup" in row
        # in this process the peak RSS may already be past what a case adds (fresh processes measure it)
        assert ("memory_ratio" in row) == (rows[phase, "naive"]["peak_memory_bytes"] > 0)
        assert row["plain_speedup"] == pytest.approx(row["examples_per_s"] / rows[phase, "plain"]["examples_per_s"])
        if system == "naive":
            assert row["speedup"] == 1.0
        if system == "plain":
            assert row["plain_speedup"] == 1.0
        if phase != "eval_data":
            assert row["tokens_per_s"] == pytest.approx(row["examples_per_s"] * 16)
            assert row["mfu"] is None  # no accelerator peak known on CPU
    assert rows["eval_data", "naive"]["examples"] == rows["eval_data", "pet"]["examples"] == 4
    assert rows["eval_data", "naive"]["accuracy"] == pytest.approx(rows["eval_data", "pet"]["accuracy"])
    assert rows["eval_data", "plain"]["accuracy"] == pytest.approx(rows["eval_data", "pet"]["accuracy"])
    assert rows["train", "plain"]["trainable_parameters"] == rows["train", "pet"]["trainable_parameters"]

    table = to_markdown(report)
    assert "### Batch 2, sequence length 16" in table and "| × plain |" in table
    assert "| naive |" in table and "| plain |" in table and "| pet |" in table and "1.00×" in table
    assert "plain (label words at [MASK]): each batch padded to its longest, file order" in table
    assert "sorted by length, dynamic padding" in table and "torch " in table


@pytest.mark.slow
def test_training_on_a_real_few_shot_sample(tiny_bert_dir, tmp_path, in_process):
    rows = [{"text": "the movie was " + "very " * i + "fun", "label": label} for i in range(4) for label in WORDS]
    data = write_task(tmp_path / "task", {"train": rows})
    config = small_config(tiny_bert_dir, train_data=str(data), shots=1, eval_max_length=32)
    cases = plan(config)
    assert [(c.system, c.batch_size) for c in cases if c.phase == "train_data"] == [
        ("naive", 8), ("plain", 8), ("pet", 8)]  # fmt: skip
    report = run_benchmark(config)
    rows = {r["system"]: r for r in report["results"] if r["phase"] == "train_data"}
    for row in rows.values():
        assert "error" not in row, row
        assert row["examples"] == 2 and row["examples_per_s"] > 0 and "tokens_per_s" not in row
    assert rows["plain"]["mean_length"] == rows["pet"]["mean_length"] < 32  # real lengths; plain pads them to 32
    assert rows["pet"]["plain_speedup"] == pytest.approx(
        rows["pet"]["examples_per_s"] / rows["plain"]["examples_per_s"]
    )
    assert "### Training on " in to_markdown(report) and "K = 1 per label" in to_markdown(report)


def test_repeats_run_round_robin_and_keep_each_rows_fastest(tiny_bert_dir, monkeypatch):
    order, speeds = [], iter([1.0, 5.0, 3.0, 2.0])
    monkeypatch.setattr(
        runner, "run_isolated", lambda config, case: order.append(case.system) or {"examples_per_s": next(speeds),
                                                                                 "peak_memory_bytes": 1}
    )  # fmt: skip
    report = run_benchmark(small_config(tiny_bert_dir, phases=["train"], references=["plain"], repeat=2))
    assert order == ["plain", "pet", "plain", "pet"]
    rows = {r["system"]: r for r in report["results"]}
    assert rows["plain"]["examples_per_s"] == 3.0 and rows["plain"]["repeats"] == [1.0, 3.0]
    assert rows["pet"]["examples_per_s"] == 5.0 and rows["pet"]["plain_speedup"] == pytest.approx(5 / 3)
    assert "fastest of 2 round-robin runs" in to_markdown(report)
    assert runner.fastest([{"error": "x"}, {"examples_per_s": 2.0}]) == {"examples_per_s": 2.0, "repeats": [2.0]}


def test_a_failing_mode_becomes_an_error_row(tiny_bert_dir, in_process):
    config = small_config(tiny_bert_dir, mode_options={"pet": {"no_such_option": 1}})
    report = run_benchmark(config)
    failed = [r for r in report["results"] if r["mode"] == "pet"]
    assert failed and all("--no-such-option" in r["error"] for r in failed)
    assert "failed" in to_markdown(report)


@pytest.mark.slow
def test_a_case_runs_in_a_fresh_process(tiny_bert_dir):
    result = runner.run_isolated(small_config(tiny_bert_dir), Case("eval", 2, "pet"))
    assert "error" not in result, result
    assert result["examples"] == 4 and result["peak_memory_bytes"] > 0


def test_bench_command_writes_json_and_markdown(tiny_bert_dir, tmp_path, in_process):
    out = tmp_path / "bench.json"
    args = ["bench", "--model", str(tiny_bert_dir), "--mode", "pet", "-b", "2", "--seq-len", "16", "--steps", "1",
            "--warmup-steps", "1", "--pattern", PATTERN, "--verbalizer", "positive=great,negative=terrible",
            "--threads", "1", "--json", str(out), "--markdown", str(tmp_path / "bench.md")]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert [r["system"] for r in report["results"]] == ["naive", "plain", "pet", "naive", "plain", "pet"]
    assert report["settings"]["verbalizer"] == {"positive": ["great"], "negative": ["terrible"]}
    assert (tmp_path / "bench.md").read_text() in result.output


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"compile": "sometimes"}, "--compile"), ({"batch_sizes": [0]}, "--batch-size"), ({"steps": 0}, "--steps"),
     ({"precision": "fp8"}, "--precision"), ({"threads": 0}, "--threads"), ({"references": ["hand"]}, "--reference"),
     ({"shots": 0}, "--shots"), ({"repeat": 0}, "--repeat"), ({"phases": ["warmup"]}, "--phase")],
)  # fmt: skip
def test_bad_settings_are_refused(tiny_bert_dir, changes, message):
    with pytest.raises(PromptlearnError, match=message):
        small_config(tiny_bert_dir, **changes)


def test_lengths_beyond_the_model_are_refused(tiny_bert_dir):
    with pytest.raises(PromptlearnError, match="64 positions"):
        run_case(small_config(tiny_bert_dir, seq_len=80), Case("train", 2))


def test_unknown_mode_is_refused(tiny_bert_dir):
    with pytest.raises(PromptlearnError, match="no_such_mode"):
        plan(small_config(tiny_bert_dir, modes=["no_such_mode"]))


def test_plain_pads_each_batch_to_its_own_longest_example(tiny_bert_dir, monkeypatch):
    run = api.build(RunConfig(model=str(tiny_bert_dir), data="-", pattern=PATTERN, verbalizer=WORDS, max_length=24))
    texts = ["fun", "the movie was fun", "the movie was very very fun", "bad", "it was bad", "the plot is boring"]
    encoded = run.pvp.encode([Example(t, label="positive" if i % 2 else "negative") for i, t in enumerate(texts)])
    inputs = naive.fixed_collate(run.pvp, 24)(encoded)  # padded once to 24, as the bench does
    lengths = [len(e.input_ids) for e in encoded]
    model = plain.PlainCloze(run.model.backbone, run.pvp.label_token_ids)
    widths, longest = [], []
    forward = plain.PlainCloze.forward

    def spy(self, batch):
        widths.append(batch["input_ids"].size(1))
        longest.append(int(batch["attention_mask"].sum(dim=1).max()))
        return forward(self, batch)

    monkeypatch.setattr(plain.PlainCloze, "forward", spy)
    plain.train(model, inputs, batch_size=2, steps=3, dtype=None, on_step=lambda step: None)
    assert widths == longest and max(widths) <= max(lengths) < 24  # every batch cut to its own longest
    widths.clear()
    plain.train(model, inputs, batch_size=2, steps=1, dtype=None, on_step=lambda step: None, trim=False)
    assert widths == [24]  # --plain-padding fixed: the old reference
    widths.clear()
    probs = plain.predict_proba(model, inputs, batch_size=3, dtype=None)
    assert widths == [max(lengths[:3]), max(lengths[3:])] and probs.shape == (6, 2)


def test_mfu_counts_the_mask_only_last_layer_at_the_masks():
    backbone = tiny_bert()  # hidden 32, feed-forward 64, 2 layers; counted here by hand from those sizes
    attention = 3 * (32 * 32 + 32) + (32 * 32 + 32) + 2 * 32  # Q, K, V, output dense, LayerNorm
    layer = attention + (32 * 64 + 64) + (64 * 32 + 32) + 2 * 32  # + feed-forward in, out, LayerNorm
    parameters = 2 * layer + 2 * 32  # + the embeddings' LayerNorm (the embedding tables are not counted)
    keys_values = 2 * (32 * 32 + 32)
    assert encoder_flops(backbone, tokens=10, factor=6) == 6 * parameters * 10
    by_hand = 6 * ((parameters - layer + keys_values) * 10 + (layer - keys_values) * 1)
    assert encoder_flops(backbone, tokens=10, factor=6, mask_rows=1) == by_hand == 681792


def test_plain_padding_must_be_batch_or_fixed(tiny_bert_dir):
    assert BenchConfig(model=str(tiny_bert_dir)).plain_padding == "batch"  # the fair reference by default
    with pytest.raises(PromptlearnError, match="--plain-padding must be one of batch, fixed, got 'none'"):
        BenchConfig(model=str(tiny_bert_dir), plain_padding="none")
