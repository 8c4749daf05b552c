"""The objective: cross-entropy, KL to soft targets with a temperature, PET's auxiliary MLM loss."""

import math

import pytest
import torch

from promptlearn.errors import PromptlearnError
from promptlearn.model.prompt_model import PromptModel
from promptlearn.modes import get_mode
from promptlearn.run.config import RunConfig
from promptlearn.training.aux_mlm import MlmBatches
from promptlearn.training.objective import Objective
from tests.helpers.fixtures import tiny_bert, tiny_tokenizer

SCORES = torch.tensor([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0]])


def test_hard_labels_give_cross_entropy():
    loss = Objective().loss(SCORES, {"labels": torch.tensor([0, 2])})
    expected = -(SCORES.log_softmax(-1)[0, 0] + SCORES.log_softmax(-1)[1, 2]) / 2
    torch.testing.assert_close(loss, expected)


def test_soft_targets_give_kl_at_the_temperature_times_its_square():
    targets = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3]])
    loss = Objective(temperature=2.0).loss(SCORES, {"labels": torch.tensor([0, 1]), "soft_targets": targets})
    expected = 0.0
    for row, target in zip(SCORES.tolist(), targets.tolist(), strict=True):
        z = [math.exp(s / 2) for s in row]
        q = [v / sum(z) for v in z]
        expected += sum(p * math.log(p / qi) for p, qi in zip(target, q, strict=True))
    assert loss.item() == pytest.approx(expected / 2 * 4, rel=1e-5)


def test_probabilities_are_the_softmax_of_the_scores():
    torch.testing.assert_close(Objective().probabilities(SCORES), SCORES.softmax(-1))


def test_auxiliary_mlm_loss_is_the_models_own_mlm_loss_mixed_by_its_weight():
    texts = ["the movie was fun", "the plot is boring", "it was great"]
    model = PromptModel(tiny_bert().eval(), get_mode("pet")(), [[5], [6]], num_labels=2).eval()
    input_ids = torch.tensor([[2, 12, 13, 4, 3], [2, 16, 13, 4, 3]])
    batch = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids),
             "mask_positions": torch.tensor([3, 3]), "labels": torch.tensor([0, 1])}  # fmt: skip
    make = lambda: MlmBatches(texts, tiny_tokenizer(), batch_size=2, max_length=16, seed=0)  # noqa: E731
    mixed = Objective(aux_mlm_weight=0.25, mlm_batches=make()).training_loss(model, batch)
    mlm = model.backbone(**make().next()).loss  # transformers' own loss: every position through the head
    task = Objective().loss(model(batch), batch)
    torch.testing.assert_close(mixed, 0.75 * task + 0.25 * mlm)


def test_mlm_batches_mask_about_15_percent_and_read_only_those():
    texts = ["the movie was really very fun and the plot is great"] * 40
    batch = MlmBatches(texts, tiny_tokenizer(), batch_size=40, max_length=32, seed=0).next()
    read = batch["labels"] != -100
    assert 0.08 < read.float().mean().item() < 0.22
    assert not read[:, 0].any() and not read[:, -1].any(), "[CLS] and [SEP] are never masked"
    assert (batch["input_ids"][read] == 4).float().mean().item() > 0.6, "most chosen tokens become [MASK]"
    assert (batch["input_ids"][~read] != 4).all()


def test_a_batch_always_reads_one_token():
    batch = MlmBatches(["fun"], tiny_tokenizer(), batch_size=1, max_length=8, seed=0).next()
    assert (batch["labels"] != -100).sum() == 1


def test_bad_settings_are_refused():
    with pytest.raises(PromptlearnError, match="temperature must be positive"):
        Objective(temperature=0)
    with pytest.raises(PromptlearnError, match="needs unlabelled text"):
        Objective(aux_mlm_weight=0.1)
    with pytest.raises(PromptlearnError, match=r"--aux-mlm-weight must be in \[0, 1\), got 1.0"):
        RunConfig(model="m", data="d", pattern="[MASK]", aux_mlm_weight=1.0)
    with pytest.raises(PromptlearnError, match="every text is empty"):
        MlmBatches([""], tiny_tokenizer(), batch_size=1, max_length=8, seed=0)


def trained_weights(tiny_bert_dir, tiny_task_dir, soft_targets=None) -> dict[str, torch.Tensor]:
    from promptlearn import api
    from promptlearn.data.examples import load_task_data
    from tests.helpers.modes import tiny_config

    data = load_task_data(str(tiny_task_dir))
    run = api.build(tiny_config(tiny_bert_dir, tiny_task_dir, "mlm_head"), data)
    run.trainer.fit(run.pvp.encode(data.split("train"), soft_targets=soft_targets), [])
    return {n: p.detach().clone() for n, p in run.model.named_parameters() if p.requires_grad}


def test_the_trainer_learns_soft_targets_through_the_objective(tiny_bert_dir, tiny_task_dir):
    """One-hot targets at T = 1 are the hard labels (KL = cross-entropy); other targets train otherwise."""
    hard = trained_weights(tiny_bert_dir, tiny_task_dir)
    labels = [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]  # the tiny task's train labels, as distributions
    one_hot = trained_weights(tiny_bert_dir, tiny_task_dir, soft_targets=labels)
    flipped = trained_weights(tiny_bert_dir, tiny_task_dir, soft_targets=[row[::-1] for row in labels])
    for name in hard:
        torch.testing.assert_close(one_hot[name], hard[name])
    assert any(not torch.allclose(flipped[name], hard[name]) for name in hard)


@pytest.mark.parametrize("mode", ["soft_prompt", "ptuning", "ppt", "ptuning_v2"])
def test_the_mlm_term_alone_trains_what_a_prompt_mode_trains(mode, tiny_bert_dir, tiny_task_dir, tmp_path):
    """The MLM batch runs through the mode (its soft prompt or prefixes), so the auxiliary loss reaches them."""
    from promptlearn import api
    from promptlearn.data.examples import load_task_data
    from tests.helpers.modes import contract_options, tiny_config

    data = load_task_data(str(tiny_task_dir))
    options = contract_options(mode, tiny_bert_dir, tmp_path)
    config = tiny_config(tiny_bert_dir, tiny_task_dir, mode, mode_options=options, aux_mlm_weight=0.5)
    run = api.build(config, data)
    objective = api.auxiliary_objective(config, run, [ex.text_a for ex in data.split("test")])
    run.model.mlm_loss(objective.mlm_batches.next()).backward()
    trained = run.model.mode.trained_parameters(run.model)
    for group, params in trained.items():
        for param in params:
            assert param.grad is not None and param.grad.abs().sum() > 0, f"{mode}: no MLM gradient in {group}"


def test_pair_mlm_batches_carry_segment_ids_and_the_model_reads_them():
    pairs = [("the movie was fun", "it was great"), ("the plot is boring", "it was bad")]
    batch = MlmBatches(pairs, tiny_tokenizer(), batch_size=2, max_length=16, seed=0).next()
    segments = batch["token_type_ids"]
    assert segments.shape == batch["input_ids"].shape
    for row, ids in zip(segments.tolist(), batch["attention_mask"].tolist(), strict=True):
        length = sum(ids)
        first_sep = 5  # [CLS] and four words, then [SEP]: the second text and its [SEP] are segment 1
        assert row[: first_sep + 1] == [0] * (first_sep + 1) and set(row[first_sep + 1 : length]) == {1}
    backbone = tiny_bert(initializer_range=0.2).eval()  # segment embeddings large enough to matter
    model = PromptModel(backbone, get_mode("pet")(), [[5], [6]], num_labels=2).eval()
    flat = dict(batch, token_type_ids=torch.zeros_like(segments))
    torch.testing.assert_close(model.mlm_loss(batch), backbone(**batch).loss)
    assert not torch.allclose(model.mlm_loss(batch), model.mlm_loss(flat)), "segment ids must reach the encoder"
