"""ONNX export: the graph's probabilities are the run's, for every mode, pairs, multi-token words and
calibration; the predictor runs without torch; what cannot be one graph is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="ONNX export needs the onnx extra: pip install 'promptlearn[onnx]'")

from promptlearn import api
from promptlearn.data.examples import Example, load_task_data
from promptlearn.errors import PromptlearnError
from promptlearn.export.manifest import read_manifest
from promptlearn.export.onnx_export import export_onnx
from promptlearn.export.predictor import OnnxPredictor
from promptlearn.modes import MODES
from promptlearn.run.config import RunConfig
from tests.helpers.cli import invoke
from tests.helpers.fixtures import REPO, TINY_MULTI_LABEL_TASK, TINY_MULTI_LABEL_WORDS, TINY_TASK, write_task
from tests.helpers.modes import contract_options, tiny_config
from tests.helpers.shapes import CHOICE_PATTERN, CHOICE_TASK, REGRESSION_TASK

PAIR_TASK = {
    split: [
        {"text": row["text"], "text_b": "it was " + word, "label": label}
        for row, word, label in zip(rows, ["fun", "boring", "fun", "boring"], ["yes", "no", "yes", "no"], strict=False)
    ]
    for split, rows in TINY_TASK.items()
}
#: single texts of several lengths, padding within a batch included
TEXTS = ["loved the movie", "hated the film", "it was fun", "the plot is really very boring", "a", "the story"]


def onnx_matches_torch(run_dir, examples, output, quantize: str = "none") -> np.ndarray:
    """Export ``run_dir``, assert its probabilities equal the run's on ``examples`` (fp32: 1e-4), return them."""
    export_onnx(run_dir, output, quantize)
    got = OnnxPredictor(output, threads=1).predict_proba(examples, batch_size=4)
    expected = api.load_run(run_dir).predict_proba(examples)
    assert got.shape == expected.shape == (len(examples), len(expected[0]))
    if quantize == "none":
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    return got


@pytest.mark.parametrize("mode", sorted(MODES))
def test_every_mode_exports_the_probabilities_of_its_run(mode, tiny_bert_dir, tiny_task_dir, tmp_path):
    options = contract_options(mode, tiny_bert_dir, tmp_path)
    api.train(tiny_config(tiny_bert_dir, tiny_task_dir, mode, mode_options=options), tmp_path / "run")
    onnx_matches_torch(tmp_path / "run", [Example(t) for t in TEXTS], tmp_path / "onnx")
    manifest = read_manifest(tmp_path / "onnx")
    assert sorted(manifest["labels"]) == ["negative", "positive"] and manifest["precision"] == "fp32"
    assert {"input_ids", "attention_mask"} <= set(manifest["inputs"])


def test_pairs_multi_token_words_and_calibration_export(tiny_bert_dir, tmp_path):
    """A pair pattern with [SEP], a three-token label word ('un ##believ ##able') scored in one pass, and
    content-free calibration folded into the graph."""
    data = write_task(tmp_path / "pairs", PAIR_TASK)
    config = tiny_config(
        tiny_bert_dir, data, "pet", pattern="{text_a} ? [MASK] , [SEP] {text_b}",
        verbalizer={"yes": ["unbelievable", "great"], "no": ["terrible"]}, calibrate="content-free",
    )  # fmt: skip
    api.train(config, tmp_path / "run")
    run = api.load_run(tmp_path / "run")
    assert run.pvp.mask_count == 3 and run.calibration is not None
    examples = [Example(t, text_b=b) for t, b in zip(TEXTS, reversed(TEXTS), strict=True)]
    onnx_matches_torch(tmp_path / "run", examples, tmp_path / "onnx")
    manifest = read_manifest(tmp_path / "onnx")
    assert "token_type_ids" in manifest["inputs"] and manifest["calibration"] is not None


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["finetune", "pet"])
def test_a_regression_run_exports_its_predicted_scores(mode, tiny_bert_dir, tmp_path):
    """A regression run (finetune: the one-output MSE head, clipped; pet: the poles) exports the pole distribution,
    and the predictor writes the run's records: predicted scores in the range."""
    data = write_task(tmp_path / "task", REGRESSION_TASK)
    prompt = {"pattern": "{text_a} ? [MASK] , {text_b}", "verbalizer": {"0": ["no"], "5": ["yes"]}}
    api.train(tiny_config(tiny_bert_dir, data, mode, batch_size=2, **prompt), tmp_path / "run")
    test = load_task_data(str(data)).split("test")
    onnx_matches_torch(tmp_path / "run", test, tmp_path / "onnx")
    assert read_manifest(tmp_path / "onnx")["task_type"] == "regression"
    records = OnnxPredictor(tmp_path / "onnx", threads=1).predict(test)
    expected = api.load_run(tmp_path / "run").predict(test)
    assert [r["predicted"] for r in records] == pytest.approx([r["predicted"] for r in expected], abs=1e-4)
    assert all(isinstance(r["predicted"], float) for r in records)


@pytest.mark.slow
def test_a_multi_label_export_decides_at_the_runs_threshold(tiny_bert_dir, tmp_path):
    data = write_task(tmp_path / "task", TINY_MULTI_LABEL_TASK)
    prompt = {"pattern": "{text} is [MASK] .", "verbalizer": TINY_MULTI_LABEL_WORDS}
    api.train(tiny_config(tiny_bert_dir, data, "pet", batch_size=2, **prompt), tmp_path / "run")
    test = load_task_data(str(data)).split("test")
    onnx_matches_torch(tmp_path / "run", test, tmp_path / "onnx")
    run = api.load_run(tmp_path / "run")
    assert read_manifest(tmp_path / "onnx")["decision"] == run.decision
    assert OnnxPredictor(tmp_path / "onnx", threads=1).predict(test) == run.predict(test)


def test_a_multiple_choice_run_is_refused(tiny_bert_dir, tmp_path):
    data = write_task(tmp_path / "task", CHOICE_TASK)
    api.train(tiny_config(tiny_bert_dir, data, "pet", pattern=CHOICE_PATTERN, verbalizer=None), tmp_path / "run")
    with pytest.raises(PromptlearnError, match="is a multiple-choice run: each example becomes one input per choice"):
        export_onnx(tmp_path / "run", tmp_path / "onnx")
    assert not (tmp_path / "onnx").exists()


def test_decodings_that_are_not_one_graph_are_refused(tiny_bert_dir, tiny_task_dir, tmp_path):
    verbalizer = {"positive": ["unbelievable"], "negative": ["terrible"]}
    config = tiny_config(tiny_bert_dir, tiny_task_dir, "pet", verbalizer=verbalizer, decoding="exact")
    api.train(config, tmp_path / "run")
    with pytest.raises(PromptlearnError, match="--decoding exact / --word-masks longest: one more encoder pass"):
        export_onnx(tmp_path / "run", tmp_path / "onnx")
    assert not (tmp_path / "onnx").exists()


@pytest.mark.slow
def test_predict_on_an_export_never_imports_torch(tiny_bert_dir, tiny_task_dir, tmp_path):
    """`promptlearn predict --run EXPORT` in a fresh process: the records equal the run's, and torch never loads."""
    api.train(tiny_config(tiny_bert_dir, tiny_task_dir, "soft_prompt"), tmp_path / "run")
    export_onnx(tmp_path / "run", tmp_path / "onnx")
    script = (
        "import sys\n"
        "from promptlearn.cli import main\n"
        f"sys.argv = ['promptlearn', 'predict', '--run', {str(tmp_path / 'onnx')!r}, '--input', "
        f"{str(tiny_task_dir / 'test.jsonl')!r}]\n"
        "try:\n    main()\nexcept SystemExit as done:\n    assert not done.code, done.code\n"
        "print('torch imported:', 'torch' in sys.modules, file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "torch imported: False" in done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    expected = api.load_run(tmp_path / "run").predict(load_task_data(str(tiny_task_dir)).split("test"))
    assert [r["predicted"] for r in records] == [r["predicted"] for r in expected]
    for got, want in zip(records, expected, strict=True):
        assert got["text"] == want["text"] and got["gold"] == want["gold"]
        assert got["probabilities"] == pytest.approx(want["probabilities"], abs=1e-4)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["r", "o", "--format", "tflite"], "--format must be one of transformers, onnx, got 'tflite'"),
        (["r", "o", "--format", "onnx", "--quantize", "int4"], "--quantize must be one of none, int8, got 'int4'"),
        (["r", "o", "--merge", "--quantize", "int8"], "--quantize applies to --format onnx only"),
        (["r", "o"], "export --format transformers writes merged models only for now: pass --merge"),
        (["r", "o", "--run", "r", "--format", "onnx"], "Give the run folder once: as RUN or as --run, not both"),
        (["--run", "r", "--format", "onnx"], "Give the output folder: export RUN OUTPUT, or --run RUN --output OUTPUT"),
    ],
)
def test_export_options_are_checked_before_a_model_loads(args, message, tmp_path):
    result = invoke("export", *args)
    assert result.exit_code == 2 and message in result.output


def bert_tiny_run(bert_tiny_dir, data, folder, **changes):
    values = dict(
        model=str(bert_tiny_dir), data=str(data), pattern="{text} It was [MASK] .", mode="pet", shots=8,
        verbalizer={"positive": ["great"], "negative": ["terrible"]}, max_steps=2, eval_every=1000, batch_size=4,
    )  # fmt: skip
    api.train(RunConfig(**(values | changes)), folder)
    return folder


@pytest.mark.slow
def test_bert_tiny_export_equals_the_run_and_encodes_alike(bert_tiny_dir, shared_data_dir, tmp_path):
    """On the real model: the saved tokenizer, reloaded without torch, encodes SST-2's test set into the run's
    very ids; and the graph's probabilities are the run's."""
    run_dir = bert_tiny_run(bert_tiny_dir, shared_data_dir / "sst2", tmp_path / "run")
    test = load_task_data(str(shared_data_dir / "sst2")).split("test")
    onnx_matches_torch(run_dir, test[:64], tmp_path / "onnx")
    ids = [e.input_ids for e in OnnxPredictor(tmp_path / "onnx").pvp.encode(test)]
    assert ids == [e.input_ids for e in api.load_run(run_dir).pvp.encode(test)]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["soft_prompt", "ptuning_v2", "lora", "adapter", "head"])
def test_bert_tiny_modes_export_pairs(mode, bert_tiny_dir, shared_data_dir, tmp_path):
    """RTE (pairs) on the real model, with a multi-token label word where the mode reads words."""
    words = {"entailment": ["yes"], "not_entailment": ["unlikely"]}  # 'unlikely': two WordPiece tokens
    run_dir = bert_tiny_run(
        bert_tiny_dir, shared_data_dir / "rte", tmp_path / "run", mode=mode, verbalizer=words,
        pattern="{text_a} ? [MASK] , {text_b}",
    )  # fmt: skip
    test = load_task_data(str(shared_data_dir / "rte")).split("test")[:32]
    onnx_matches_torch(run_dir, test, tmp_path / "onnx")


@pytest.mark.slow
def test_int8_agrees_with_fp32_on_sst2(bert_tiny_dir, shared_data_dir, tmp_path):
    """Dynamic INT8 quantization keeps >= 99 % of the run's predicted labels on SST-2's whole test set (a run
    trained for 150 steps: an untrained one sits near 0.5, where any rounding flips a label)."""
    run_dir = bert_tiny_run(
        bert_tiny_dir, shared_data_dir / "sst2", tmp_path / "run", shots=64, max_steps=150, batch_size=8
    )
    test = load_task_data(str(shared_data_dir / "sst2")).split("test")
    int8 = onnx_matches_torch(run_dir, test, tmp_path / "int8", quantize="int8")
    assert read_manifest(tmp_path / "int8")["precision"] == "int8"
    expected = api.load_run(run_dir).predict_proba(test)
    agreement = float((int8.argmax(axis=1) == expected.argmax(axis=1)).mean())
    assert agreement >= 0.99, agreement
