"""The setfit mode: its losses and pooling against hand computations, its head against scikit-learn, and whole
runs (train -> evaluate -> predict) on a masked LM and on a sentence-transformers folder without an MLM head."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from promptlearn import api
from promptlearn.backbone.loading import load_backbone, sentence_transformers_modules
from promptlearn.data.examples import load_task_data
from promptlearn.errors import PromptlearnError
from promptlearn.modes.setfit import SentenceHead, SetFitMode, contrastive_loss, cosine_similarity_loss
from tests.helpers.fixtures import save_tiny_sentence_encoder
from tests.helpers.modes import tiny_config

LEFT = torch.tensor([[1.0, 0.0], [1.0, 1.0], [3.0, 4.0]])
RIGHT = torch.tensor([[0.0, 2.0], [2.0, 2.0], [-3.0, -4.0]])
TARGET = torch.tensor([0.0, 1.0, 0.0])
#: cosines of the rows above: orthogonal 0, parallel 1, opposite -1
COSINES = [0.0, 1.0, -1.0]


def test_cosine_similarity_loss_is_the_mean_squared_gap_between_cosine_and_label():
    expected = ((0.0 - 0.0) ** 2 + (1.0 - 1.0) ** 2 + (-1.0 - 0.0) ** 2) / 3
    assert cosine_similarity_loss(LEFT, RIGHT, TARGET).item() == pytest.approx(expected)
    assert cosine_similarity_loss(LEFT, RIGHT, 1 - TARGET).item() == pytest.approx((1 + 1 + 4) / 3)


def test_contrastive_loss_is_hadsells_on_the_cosine_distance():
    distances = [1 - c for c in COSINES]  # 1, 0, 2
    margin = 1.5
    terms = [y * d**2 + (1 - y) * max(0.0, margin - d) ** 2 for y, d in zip(TARGET.tolist(), distances, strict=True)]
    assert contrastive_loss(LEFT, RIGHT, TARGET, margin).item() == pytest.approx(0.5 * sum(terms) / 3)


def test_mean_pooling_averages_the_attended_tokens_only_then_normalises():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 6.0], [100.0, 100.0]], [[4.0, 0.0], [0.0, 0.0], [0.0, 3.0]]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    plain = SentenceHead(2, 2, "mean", normalize=False).embeddings(hidden, mask)
    np.testing.assert_allclose(plain.numpy(), [[2.0, 4.0], [4 / 3, 1.0]], rtol=1e-6)
    unit = SentenceHead(2, 2, "mean", normalize=True).embeddings(hidden, mask)
    norms = [math.hypot(2.0, 4.0), math.hypot(4 / 3, 1.0)]
    assert unit.tolist()[0] == pytest.approx([2.0 / norms[0], 4.0 / norms[0]])
    assert unit.tolist()[1] == pytest.approx([(4 / 3) / norms[1], 1.0 / norms[1]])
    assert SentenceHead(2, 2, "cls", normalize=False).embeddings(hidden, mask).tolist() == [[1.0, 2.0], [4.0, 0.0]]


@pytest.mark.parametrize("classes", [2, 3])
def test_logistic_head_gives_scikit_learns_probabilities(classes):
    generator = np.random.default_rng(0)
    embeddings = torch.tensor(generator.normal(size=(12, 5)), dtype=torch.float32)
    labels = torch.arange(12) % classes
    mode = SetFitMode()
    mode.head = SentenceHead(5, classes, "mean", normalize=False)
    mode._fit_logistic(embeddings, labels)
    ours = torch.softmax(mode.head.linear(embeddings), dim=-1).detach().numpy()
    theirs = LogisticRegression().fit(embeddings.double().numpy(), labels.numpy()).predict_proba(embeddings.numpy())
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_the_sentence_encoder_folder_loads_bare_and_says_how_it_pools(tmp_path):
    folder = save_tiny_sentence_encoder(tmp_path / "st", pooling="cls", normalize=False)
    assert sentence_transformers_modules(str(folder)) == {"normalize": False, "pooling": "cls"}
    assert sentence_transformers_modules(str(tmp_path)) == {}
    encoder = load_backbone(str(folder), encoder_only=True)
    assert type(encoder).__name__ == "BertModel" and getattr(encoder, "pooler", None) is None


def _train_evaluate_predict(model_dir, task_dir, tmp_path, **options) -> dict:
    run_dir = tmp_path / "run"
    config = tiny_config(model_dir, task_dir, "setfit", mode_options=options, max_steps=4, eval_every=2)
    metrics = api.train(config, run_dir)
    assert metrics["training"]["steps"] == 4 and metrics["dev"]["accuracy"] is not None
    reloaded = api.load_run(run_dir)
    test = load_task_data(str(task_dir)).split("test")
    saved = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines()]
    assert reloaded.predict(test) == saved
    assert reloaded.evaluate(test) == metrics["test"]
    return metrics


@pytest.mark.slow
def test_trains_evaluates_and_predicts_on_a_masked_lm(tiny_bert_dir, tiny_task_dir, tmp_path):
    _train_evaluate_predict(tiny_bert_dir, tiny_task_dir, tmp_path)


@pytest.mark.slow
def test_trains_on_a_sentence_transformers_folder_without_mlm_head(tiny_task_dir, tmp_path):
    folder = save_tiny_sentence_encoder(tmp_path / "st")
    with pytest.raises(PromptlearnError, match="no trained masked-LM head"):
        api.train(tiny_config(folder, tiny_task_dir, "pet"), tmp_path / "pet")
    _train_evaluate_predict(folder, tiny_task_dir, tmp_path, head="linear", loss="contrastive")
    run = api.load_run(tmp_path / "run")
    assert run.model.mode.head.normalize and run.model.mode.head.pooling == "mean"  # from modules.json


def test_bad_options_and_accumulation_are_clear_errors(tiny_bert_dir, tiny_task_dir, tmp_path):
    with pytest.raises(PromptlearnError, match="loss must be one of"):
        SetFitMode.from_options({"loss": "triplet"})
    with pytest.raises(PromptlearnError, match="pooling must be"):
        SetFitMode.from_options({"pooling": "max"})
    with pytest.raises(PromptlearnError, match="not --grad-accum"):
        api.train(tiny_config(tiny_bert_dir, tiny_task_dir, "setfit", grad_accum=2), tmp_path / "run")
