"""The prompt modes' readout choice: cls is a linear head on the [MASK] state of the prompted input."""

from __future__ import annotations

import pytest
import torch

from promptlearn import api
from promptlearn.data.examples import load_task_data
from promptlearn.modes import get_mode
from promptlearn.prompt.pattern import Pattern
from promptlearn.readout.heads import ClassificationHead, pool
from tests.helpers.modes import contract_options, declared_names, tiny_config

PROMPT_MODES = ["soft_prompt", "ptuning", "ppt"]


def _build(model_dir, task_dir, mode, options, **changes):
    config = tiny_config(model_dir, task_dir, mode, mode_options=options, **changes)
    return api.build(config, load_task_data(str(task_dir)))


def test_mask_pooling_takes_each_examples_mask_state():
    hidden = torch.arange(24.0).reshape(2, 3, 4)
    torch.testing.assert_close(pool(hidden, torch.ones(2, 3), "mask", torch.tensor([2, 1])), hidden[[0, 1], [2, 1]])


@pytest.mark.parametrize("mode", PROMPT_MODES)
def test_cls_reads_the_mask_state_of_the_prompted_pattern(mode, tiny_bert_dir, tiny_task_dir, tmp_path):
    options = contract_options(mode, tiny_bert_dir, tmp_path) | {"readout": "cls"}
    run = _build(tiny_bert_dir, tiny_task_dir, mode, options, verbalizer=None, labels=["negative", "positive"])
    head = run.model.mode.head
    assert isinstance(head, ClassificationHead) and head.pooling == "mask"
    assert run.model.label_words is None  # no verbalizer needed
    encoded = run.pvp.encode(load_task_data(str(tiny_task_dir)).split("test"))
    assert "[MASK]" in run.pvp.tokens(encoded[0]) and encoded[0].soft_positions  # the pattern, with its prompt
    batch = run.pvp.collate(encoded)
    run.model.eval()
    with torch.no_grad():
        hidden = run.model.hidden_states(batch)
        rows = torch.arange(len(encoded))
        expected = head.linear(hidden[rows, batch["mask_positions"]])
        torch.testing.assert_close(run.model(batch), expected)


@pytest.mark.parametrize("mode", ["soft_prompt", "ptuning"])
def test_prompt_modes_keep_the_pattern_for_every_readout(mode):
    pattern = Pattern.parse("{text} it was [MASK] .")
    adapted = {r: get_mode(mode).from_options({"readout": r}).adapt_pattern(pattern) for r in ("cloze", "cls", "warp")}
    assert adapted["cls"] == adapted["warp"] == adapted["cloze"] != pattern.inputs_only()


@pytest.mark.parametrize(("mode", "main"), [("soft_prompt", "prompt"), ("ptuning", "encoder")])
def test_the_prompt_modes_head_trains_at_the_linear_probes_rate_whatever_the_prompts(mode, main):
    rates = get_mode(mode).from_options({"readout": "cls"}).group_learning_rates
    assert rates()["head"] == get_mode("head").default_learning_rate == 1e-2
    assert rates(0.5) == rates() | {main: 0.5}  # --lr sets the prompt's rate only


@pytest.mark.parametrize("mode", ["soft_prompt", "ptuning"])
def test_the_last_layer_runs_at_mask_only_for_cloze_and_warp(mode):
    reads_mask = {r: get_mode(mode).from_options({"readout": r}).reads_only_mask for r in ("cloze", "cls", "warp")}
    assert reads_mask == {"cloze": True, "cls": False, "warp": True}


@pytest.mark.parametrize("readout", ["cls", "warp"])
def test_ppt_owns_its_head_beside_the_pretrained_prompt(readout, tiny_bert_dir, tiny_task_dir, tmp_path):
    options = contract_options("ppt", tiny_bert_dir, tmp_path) | {"readout": readout}
    run = _build(tiny_bert_dir, tiny_task_dir, "ppt", options)
    names = declared_names(run.model)
    head = {name for name in names if name.startswith("mode.head.")}
    assert head and names == head | {"mode.soft.prompt"}
    assert run.model.mode.soft.head is None
    assert run.model.mode.group_learning_rates(0.5) == {"prompt": 0.5, "head": 1e-2}
