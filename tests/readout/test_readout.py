"""Readouts belong to the objective: a mode declares one (a ``head``, or label words) and implements none."""

from __future__ import annotations

import pytest
import torch

from promptlearn.model.prompt_model import PromptModel
from promptlearn.modes import MODES, get_mode
from promptlearn.modes.base import Mode
from promptlearn.readout.heads import ClassificationHead
from promptlearn.readout.scores import class_scores
from tests.helpers.fixtures import tiny_bert


def test_no_mode_implements_a_readout():
    assert [name for name, cls in MODES.items() if hasattr(cls, "readout")] == []


def test_the_last_layer_runs_at_mask_only_for_the_same_modes_as_before():
    """Moving the readout must not move the mask-only layer (``mask_only``) onto modes that never had it."""
    options = {name: {} for name in MODES if name != "ppt"}  # ppt needs an artifact; it forwards to soft_prompt
    at_mask = {name for name, opts in options.items() if get_mode(name).from_options(opts).reads_only_mask}
    assert at_mask == {"mlm_head", "pet", "ptuning", "soft_prompt"}
    assert not get_mode("bitfit").from_options({"readout": "cls"}).reads_only_mask


def test_class_scores_read_the_head_when_a_mode_owns_one_else_the_label_words():
    torch.manual_seed(0)
    model = PromptModel(tiny_bert(), Mode(), [[5], [6]], 2)
    hidden = torch.randn(2, 4, model.hidden_size)
    batch = {"attention_mask": torch.ones(2, 4, dtype=torch.long), "mask_positions": torch.tensor([1, 2])}
    torch.testing.assert_close(class_scores(model, None, hidden, batch), model.cloze_scores(hidden, batch))
    head = ClassificationHead(model.hidden_size, 2).eval()
    torch.testing.assert_close(class_scores(model, head, hidden, batch), head.linear(hidden[:, 0]))


class HeadButVerbalizer(Mode):
    """Owns a head yet says it scores label words: which readout would the scores come from?"""

    def attach(self, model) -> None:
        self.head = ClassificationHead(model.hidden_size, model.num_labels)


class NoHeadNoVerbalizer(Mode):
    uses_verbalizer = False


@pytest.mark.parametrize("mode", [HeadButVerbalizer, NoHeadNoVerbalizer])
def test_a_mode_owns_a_head_exactly_when_it_uses_no_verbalizer(mode):
    with pytest.raises(ValueError, match="must own a head exactly when it uses no verbalizer"):
        PromptModel(tiny_bert(), mode(), [[5], [6]] if mode.uses_verbalizer else [], 2)
