"""Readouts as a registry: a new readout is one module with one registration line, and every
mode that offers ``readout=`` trains, saves and reloads with it."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from promptlearn import api
from promptlearn.data.examples import load_task_data
from promptlearn.errors import PromptlearnError
from promptlearn.readout.registry import READOUTS, Readout, check_readout
from tests.helpers.modes import tiny_config


class MaxPoolHead(nn.Module):
    """A toy readout: a linear layer on the maximum over the attended positions, (B, T, H) -> (B, C)."""

    def __init__(self, model, pooling: str):
        super().__init__()
        self.linear = nn.Linear(model.hidden_size, model.num_labels)

    def forward(self, hidden, attention_mask, mask_positions=None):
        padded = ~attention_mask.bool()[..., None]  # (B, T, 1)
        return self.linear(hidden.masked_fill(padded, float("-inf")).amax(dim=1))  # (B, C)


#: the toy's one registration line (in its own module it would run on import)
MAX = Readout("max", MaxPoolHead, reads_label_words=False, summary="a linear head on the maximum over the tokens")


LABELS = ["positive", "negative"]


@pytest.fixture()
def with_max(monkeypatch):
    monkeypatch.setitem(READOUTS, MAX.name, MAX)


def test_unknown_readouts_list_the_registered_ones():
    with pytest.raises(PromptlearnError) as raised:
        check_readout("pooler")
    assert str(raised.value) == (
        "--readout must be one of cloze, cls, warp ('cloze': label words at [MASK]; 'cls': a new linear head, "
        "on [CLS] or, in prompt modes, on [MASK]; 'warp': trainable class embeddings at [MASK] that start as "
        "the label words' output rows), got 'pooler'"
    )


def test_a_registered_readout_is_offered(with_max):
    check_readout("max")
    with pytest.raises(PromptlearnError, match=r"one of cloze, cls, max, warp .*'max': a linear head on the max"):
        check_readout("pooler")


@pytest.mark.parametrize("mode", ["bitfit", "soft_prompt"])
def test_a_mode_trains_saves_and_reloads_with_a_new_readout(mode, with_max, tiny_bert_dir, tiny_task_dir, tmp_path):
    config = tiny_config(tiny_bert_dir, tiny_task_dir, mode, labels=LABELS, mode_options={"readout": "max"})
    run = api.build(config)
    head = run.model.mode.head
    assert isinstance(head, MaxPoolHead) and not run.model.mode.uses_verbalizer
    assert run.model.label_words is None, "a readout that reads no label words gets none"
    api.train(config, tmp_path / "run")
    reloaded = api.load_run(tmp_path / "run")
    trained = reloaded.model.mode.head.linear.weight
    assert not torch.equal(trained, head.linear.weight), "the head is what trains (with the mode's own parameters)"
    test = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    again = reloaded.predict(load_task_data(str(tiny_task_dir)).split("test"))
    assert [row["probabilities"] for row in again] == [row["probabilities"] for row in test]
