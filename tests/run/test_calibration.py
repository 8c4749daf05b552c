"""Calibration: the estimate, that it recovers a biased model's unbiased argmax, and run folders apply it."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from promptlearn import api
from promptlearn.cli import app
from promptlearn.data.examples import Example, load_task_data
from promptlearn.errors import PromptlearnError
from promptlearn.run import calibration
from promptlearn.run.config import RunConfig

runner = CliRunner()
PATTERN = "It was [MASK]."
WORDS = {"positive": ["great"], "negative": ["terrible"]}


def test_calibration_recovers_the_unbiased_argmax_of_a_biased_model():
    """Zhao et al.'s premise: a biased model's probabilities are the unbiased ones times a label bias."""
    rng = np.random.default_rng(0)
    unbiased = rng.dirichlet(np.ones(3), size=200)  # (N, C) for 200 inputs; content-free inputs get uniform
    weights = np.array([20.0, 1.0, 0.2])  # the prompt prefers label 0 by far

    def biased(probs):
        scaled = probs * weights
        return scaled / scaled.sum(axis=1, keepdims=True)

    def predict_proba(examples):
        return biased(np.full((len(examples), 3), 1 / 3)) if examples[0].text_a == "N/A" else biased(unbiased)

    assert (biased(unbiased).argmax(axis=1) == 0).mean() > 0.8  # the bias decides most predictions
    bias = calibration.estimate("content-free", predict_proba, [], "[MASK]", pair=False)
    np.testing.assert_allclose(bias, weights / weights.sum())
    calibrated = calibration.apply(biased(unbiased), bias)
    np.testing.assert_allclose(calibrated, unbiased, atol=1e-12)
    assert (calibrated.argmax(axis=1) == unbiased.argmax(axis=1)).all()


def test_unlabeled_estimate_is_the_mean_over_the_texts_without_labels():
    seen = []

    def predict_proba(examples):
        seen.extend(examples)
        return np.array([[0.9, 0.1], [0.5, 0.5]])

    texts = [Example("a", label="positive"), Example("b", label="negative")]
    bias = calibration.estimate("unlabeled", predict_proba, texts, "[MASK]", pair=False)
    np.testing.assert_allclose(bias, [0.7, 0.3])
    assert [ex.label for ex in seen] == [None, None]
    assert calibration.estimate("none", predict_proba, texts, "[MASK]", pair=False) is None
    assert [ex.text_b for ex in calibration.content_free_inputs("[MASK]", pair=True)] == ["N/A", "", "[MASK]"]


def test_content_free_calibration_of_a_real_model_divides_out_its_mean_content_free_probabilities(
    tiny_bert_dir, tiny_task_dir
):
    """A tiny model with a large bias on 'great' says positive to everything; calibrated, it follows the
    hand computation from its own full-vocabulary logits."""
    data = load_task_data(str(tiny_task_dir))
    run = api.build(RunConfig(model=str(tiny_bert_dir), data=str(tiny_task_dir), pattern=PATTERN,
                              verbalizer=WORDS, calibrate="content-free"), data)  # fmt: skip
    great, terrible = run.pvp.label_token_ids[0][0], run.pvp.label_token_ids[1][0]
    with torch.no_grad():
        run.model.backbone.cls.predictions.bias[great] += 8.0
    test = data.split("test")
    assert (run.predict_proba(test).argmax(axis=1) == 0).all()

    def by_hand(examples):
        run.model.eval()
        encoded = run.pvp.collate(run.pvp.encode(examples))
        with torch.no_grad():
            logits = run.model.backbone(
                input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"]
            ).logits[torch.arange(len(examples)), encoded["mask_positions"]]
        return torch.softmax(logits[:, [great, terrible]], dim=-1).numpy()

    api.calibrate(run, data.split("train"))
    free = calibration.content_free_inputs(run.pvp.tokenizer.mask_token, pair=False)
    bias = by_hand(free).mean(axis=0)
    np.testing.assert_allclose(run.calibration, bias, rtol=1e-4)
    expected = by_hand(test) / bias
    np.testing.assert_allclose(run.predict_proba(test), expected / expected.sum(1, keepdims=True), rtol=1e-4)


def train_args(model_dir, task_dir, output, *extra):
    return ["train", "--model", str(model_dir), "--data", str(task_dir), "--pattern", PATTERN,
            "--verbalizer", "positive=great,negative=terrible", "--max-steps", "2", "--batch-size", "3",
            "--lr", "1e-3", "--output", str(output), *extra]  # fmt: skip


def predict(run, text="it was fun"):
    result = runner.invoke(app, ["predict", "--run", str(run)], input=json.dumps({"text": text}) + "\n")
    assert result.exit_code == 0, result.output
    return json.loads(result.output.splitlines()[-1])["probabilities"]


@pytest.mark.slow
@pytest.mark.parametrize("method", ["content-free", "unlabeled"])
def test_predict_on_a_run_folder_applies_the_stored_calibration(tiny_bert_dir, tiny_task_dir, tmp_path, method):
    run_dir = tmp_path / "run"
    result = runner.invoke(app, train_args(tiny_bert_dir, tiny_task_dir, run_dir, "--calibrate", method))
    assert result.exit_code == 0, result.output
    stored = json.loads((run_dir / calibration.FILE).read_text())
    assert stored["method"] == method and set(stored["bias"]) == {"positive", "negative"}

    loaded = api.load_run(run_dir)
    raw = loaded.trainer.predict_proba(loaded.pvp.encode([Example("it was fun")]))
    bias = np.array([stored["bias"]["positive"], stored["bias"]["negative"]])
    expected = calibration.apply(raw, bias)[0]
    assert predict(run_dir) == pytest.approx({"positive": expected[0], "negative": expected[1]}, abs=1e-5)

    # the stored vector is what predict applies: change it and the probabilities follow
    stored["bias"] = {"positive": 0.99, "negative": 0.01}
    (run_dir / calibration.FILE).write_text(json.dumps(stored))
    skewed = calibration.apply(raw, np.array([0.99, 0.01]))[0]
    assert predict(run_dir) == pytest.approx({"positive": skewed[0], "negative": skewed[1]}, abs=1e-5)

    evaluated = runner.invoke(app, ["evaluate", "--run", str(run_dir), "--calibrate", "none"])
    assert evaluated.exit_code == 2 and "zero-shot" in evaluated.output


def test_a_calibrated_run_without_its_vector_is_refused(tiny_bert_dir, tiny_task_dir, tmp_path):
    run_dir = tmp_path / "run"
    result = runner.invoke(app, train_args(tiny_bert_dir, tiny_task_dir, run_dir, "--calibrate", "content-free"))
    assert result.exit_code == 0, result.output
    (run_dir / calibration.FILE).unlink()
    with pytest.raises(PromptlearnError, match=r"has no calibration\.json"):
        api.load_run(run_dir)


def test_zero_shot_evaluate_calibrates_and_rejects_unknown_methods(tiny_bert_dir, tiny_task_dir):
    args = ["evaluate", "--model", str(tiny_bert_dir), "--data", str(tiny_task_dir), "--pattern", PATTERN,
            "--verbalizer", "positive=great,negative=terrible"]  # fmt: skip
    plain = runner.invoke(app, args)
    calibrated = runner.invoke(app, [*args, "--calibrate", "content-free"])
    assert plain.exit_code == 0 and calibrated.exit_code == 0, calibrated.output
    wrong = runner.invoke(app, [*args, "--calibrate", "contextual"])
    assert wrong.exit_code == 2 and "--calibrate must be one of none, content-free, unlabeled" in wrong.output


def test_a_trained_run_estimates_unlabeled_calibration_on_texts_it_did_not_train_on(
    tiny_bert_dir, tiny_task_dir, monkeypatch
):
    data = load_task_data(str(tiny_task_dir))
    config = RunConfig(model=str(tiny_bert_dir), data=str(tiny_task_dir), pattern=PATTERN, verbalizer=WORDS,
                       calibrate="unlabeled", shots=1, dev_split="given", seed=13, max_steps=1)  # fmt: skip
    seen = []
    real = calibration.estimate
    monkeypatch.setattr(
        calibration,
        "estimate",
        lambda method, p, unlabeled, *a: seen.append(unlabeled) or real(method, p, unlabeled, *a),
    )
    api.fit(config, data)
    train, dev = api.few_shot_split(config, data)
    (estimated_on,) = seen
    used = {(ex.text_a, ex.label) for ex in train + dev}
    assert estimated_on and not used & {(ex.text_a, ex.label) for ex in estimated_on}
    assert len(estimated_on) == len(data.split("train")) - len(train)  # the rest of train (dev is the given split)
