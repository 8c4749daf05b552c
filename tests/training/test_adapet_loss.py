"""ADAPET's objective: the decoupled label loss and the label-conditioned MLM loss against hand computations,
and the corrupted inputs the MLM loss reads."""

import math

import pytest
import torch

from promptlearn.model.prompt_model import PromptModel
from promptlearn.modes import get_mode
from promptlearn.training.adapet import (
    Adapet,
    decoupled_label_loss,
    label_conditioned_mlm_loss,
    label_probabilities,
)
from promptlearn.training.objective import Objective
from tests.helpers.fixtures import tiny_bert

SPECIAL = [0, 1, 2, 3, 4]  # the fixture vocabulary's [PAD] [UNK] [CLS] [SEP] [MASK]


def test_decoupled_label_loss_is_a_binary_decision_per_label():
    probs = torch.tensor([[0.5, 0.2, 0.1], [0.1, 0.3, 0.4]])
    loss = decoupled_label_loss(probs, torch.tensor([0, 2]))
    by_hand = [-math.log(0.5), -math.log(0.8), -math.log(0.9), -math.log(0.9), -math.log(0.7), -math.log(0.4)]
    assert loss.item() == pytest.approx(sum(by_hand) / 6, rel=1e-6)


def test_a_labels_probability_sums_its_words_over_the_whole_vocabulary():
    log_probs = torch.log_softmax(torch.tensor([[1.0, 2.0, 0.0, -1.0, 0.5]]), dim=-1)
    words, valid = torch.tensor([[1, 3], [4, 0]]), torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    z = [math.exp(v) for v in (1.0, 2.0, 0.0, -1.0, 0.5)]
    expected = [(z[1] + z[3]) / sum(z), z[4] / sum(z)]
    torch.testing.assert_close(label_probabilities(log_probs, words, valid), torch.tensor([expected]))


def test_label_conditioned_mlm_loss_raises_reconstruction_for_the_right_label_only():
    token_probs, correct = torch.tensor([0.9, 0.6, 0.2]), torch.tensor([True, True, False])
    by_hand = (-math.log(0.9) - math.log(0.6) - math.log(0.8)) / 3
    assert label_conditioned_mlm_loss(token_probs, correct).item() == pytest.approx(by_hand, rel=1e-6)


def adapet(seed=0, ratio=0.105, weight=1.0) -> Adapet:
    words = torch.tensor([[5], [6]])  # great | terrible
    return Adapet(words, torch.ones(2, 1), words[:, 0], SPECIAL, mask_token_id=4, mask_ratio=ratio,
                  mlm_weight=weight, seed=seed)  # fmt: skip


def batch_of(rows: list[list[int]], masks: list[int], labels: list[int]) -> dict:
    ids = torch.tensor(rows)
    return {"input_ids": ids, "attention_mask": (ids != 0).long(), "mask_positions": torch.tensor(masks),
            "labels": torch.tensor(labels)}  # fmt: skip


def test_corruption_fills_a_drawn_label_and_masks_max_floor_u_alpha_l_2_minus_1_plain_tokens():
    ids = [[2, 12, 13, 16, 17, 18, 19, 20, 21, 4, 3, 0], [2, 14, 15, 4, 16, 17, 3, 0, 0, 0, 0, 0]]
    batch = batch_of(ids, [9, 3], [0, 1]) | {"soft_positions": torch.tensor([[1], [1]])}
    filled, corrupted, masked, correct = adapet(seed=3, ratio=0.9).corrupt(batch)

    generator = torch.Generator().manual_seed(3)
    drawn = torch.randint(2, (2,), generator=generator)
    u = torch.rand(2, generator=generator)
    for row, (mask, length) in enumerate([(9, 8), (3, 4)]):  # plain tokens: not special, padding or soft
        assert filled[row, mask] == [5, 6][drawn[row]]
        assert masked[row].sum() == max(math.floor(u[row] * 0.9 * length), 2) - 1
        chosen = masked[row].nonzero().flatten().tolist()
        assert all(ids[row][p] not in SPECIAL and p != 1 for p in chosen if p != mask)
    assert (corrupted[masked] == 4).all() and torch.equal(corrupted[~masked], filled[~masked])
    assert torch.equal(correct, drawn == torch.tensor([0, 1]))


def test_the_loss_is_decoupled_plus_label_conditioned_mlm_read_from_the_full_vocabulary():
    model = PromptModel(tiny_bert().eval(), get_mode("pet")(), [[5], [6]], num_labels=2).eval()
    batch = batch_of([[2, 12, 13, 16, 17, 4, 3], [2, 14, 15, 21, 26, 4, 3]], [5, 5], [0, 1])
    loss = Objective(task_loss=adapet(seed=7, ratio=0.5, weight=0.3)).training_loss(model, batch)

    logits = model.backbone(input_ids=batch["input_ids"]).logits  # transformers' own head, every position
    p = logits[torch.arange(2), batch["mask_positions"]].softmax(-1)[:, [5, 6]]
    decoupled = -(p[0, 0].log() + (1 - p[0, 1]).log() + (1 - p[1, 0]).log() + p[1, 1].log()) / 4
    filled, corrupted, masked, correct = adapet(seed=7, ratio=0.5).corrupt(batch)
    probs = model.backbone(input_ids=corrupted).logits.softmax(-1)
    terms = [
        -(probs[r, t, filled[r, t]].log() if correct[r] else (1 - probs[r, t, filled[r, t]]).log())
        for r, t in masked.nonzero().tolist()
    ]
    torch.testing.assert_close(loss, decoupled + 0.3 * torch.stack(terms).mean(), rtol=1e-4, atol=1e-6)
