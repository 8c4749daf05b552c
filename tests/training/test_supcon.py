"""The supervised contrastive term: Khosla et al.'s L_out, checked against a plain-loop implementation of the
formula, and read at the [MASK] states of the batch's views."""

import math

import pytest
import torch

from promptlearn.model.prompt_model import PromptModel
from promptlearn.modes import get_mode
from promptlearn.training.objective import Objective
from promptlearn.training.supcon import VIEWS, SupervisedContrastive, supcon_loss
from tests.helpers.fixtures import tiny_bert


def khosla_l_out(features: list[list[list[float]]], labels: list[int], t: float) -> float:
    """Khosla et al. (2020), eq. 2, written out: anchors are all N*V views; P(i) the other views of the same
    label, A(i) every view but i."""
    views = [(vector, label) for vectors, label in zip(features, labels, strict=True) for vector in vectors]

    def dot(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True))

    total = 0.0
    for i, (anchor, label) in enumerate(views):
        denominator = sum(math.exp(dot(anchor, other) / t) for a, (other, _) in enumerate(views) if a != i)
        positives = [other for p, (other, y) in enumerate(views) if p != i and y == label]
        total += -sum(math.log(math.exp(dot(anchor, p) / t) / denominator) for p in positives) / len(positives)
    return total / len(views)


def normalised(shape, seed):
    return torch.nn.functional.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)), dim=-1)


@pytest.mark.parametrize(("labels", "views", "t"), [([0, 1, 0, 2], 2, 0.07), ([1, 1, 0], 3, 0.5), ([0, 1], 2, 1.0)])
def test_supcon_equals_khoslas_formula_written_with_loops(labels, views, t):
    features = normalised((len(labels), views, 5), seed=len(labels))
    loss = supcon_loss(features, torch.tensor(labels), t)
    assert loss.item() == pytest.approx(khosla_l_out(features.tolist(), labels, t), rel=1e-5)


def test_supcon_is_low_when_same_label_views_coincide_and_classes_are_apart():
    apart = torch.tensor([[[1.0, 0.0]] * 2, [[1.0, 0.0]] * 2, [[-1.0, 0.0]] * 2])
    mixed = torch.tensor([[[1.0, 0.0]] * 2, [[-1.0, 0.0]] * 2, [[1.0, 0.0]] * 2])
    labels = torch.tensor([0, 0, 1])
    assert supcon_loss(apart, labels, 0.1) < supcon_loss(mixed, labels, 0.1)


def test_the_term_reads_the_normalised_mask_states_of_the_views_in_view_major_order():
    model = PromptModel(tiny_bert().eval(), get_mode("pet")(), [[5], [6]], num_labels=2).eval()
    ids = torch.tensor([[2, 12, 13, 4, 3], [2, 4, 16, 13, 3], [2, 17, 4, 26, 3], [2, 12, 21, 4, 3]])
    views = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "mask_positions": torch.tensor([3, 1, 2, 3])}
    batch = {"labels": torch.tensor([0, 1]), VIEWS: views}

    loss = SupervisedContrastive(weight=0.5, temperature=0.2)(model, batch)

    hidden = model.backbone.base_model(input_ids=ids).last_hidden_state
    states = torch.nn.functional.normalize(hidden[torch.arange(4), views["mask_positions"]], dim=-1)
    by_example = [[states[0].tolist(), states[2].tolist()], [states[1].tolist(), states[3].tolist()]]
    assert loss.item() == pytest.approx(0.5 * khosla_l_out(by_example, [0, 1], 0.2), rel=1e-4)


def test_the_objective_adds_the_term_to_the_cross_entropy():
    model = PromptModel(tiny_bert().eval(), get_mode("pet")(), [[5], [6]], num_labels=2).eval()
    ids = torch.tensor([[2, 12, 13, 4, 3], [2, 16, 13, 4, 3]])
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "mask_positions": torch.tensor([3, 3]),
             "labels": torch.tensor([0, 1])}  # fmt: skip
    batch[VIEWS] = {k: torch.cat([v, v]) for k, v in batch.items() if k != "labels"}
    term = SupervisedContrastive(weight=2.0, temperature=0.07)
    total = Objective(contrastive=term).training_loss(model, batch)
    torch.testing.assert_close(total, Objective().loss(model(batch), batch) + term(model, batch))
