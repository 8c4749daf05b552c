"""The contract every registered mode keeps: it trains exactly what it declares, reloads to the same
predictions, and can fit a tiny separable task. New modes join by registering themselves."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from promptlearn import api
from promptlearn.data.examples import load_task_data
from promptlearn.modes import MODES
from tests.helpers.modes import CASES, contract_options, declared_names, tiny_config

ALL_MODES = sorted(MODES)


@pytest.mark.parametrize(("mode", "variant"), CASES)
def test_exactly_the_declared_parameters_change(mode, variant, tiny_bert_dir, tiny_task_dir, tmp_path):
    data = load_task_data(str(tiny_task_dir))
    options = contract_options(mode, tiny_bert_dir, tmp_path) | variant
    run = api.build(tiny_config(tiny_bert_dir, tiny_task_dir, mode, mode_options=options), data)
    declared = declared_names(run.model)
    assert declared, f"{mode} declares nothing to train"
    assert declared == {name for name, p in run.model.named_parameters() if p.requires_grad}
    before = {name: p.detach().clone() for name, p in run.model.named_parameters()}

    run.trainer.fit(run.pvp.encode(data.split("train")), [])

    changed = {name for name, p in run.model.named_parameters() if not torch.equal(p.detach(), before[name])}
    assert changed == declared, f"unchanged: {sorted(declared - changed)}; changed: {sorted(changed - declared)}"


@pytest.mark.parametrize(("mode", "variant"), CASES)
def test_save_load_gives_identical_predictions(mode, variant, tiny_bert_dir, tiny_task_dir, tmp_path):
    run_dir = tmp_path / "run"
    options = contract_options(mode, tiny_bert_dir, tmp_path) | variant
    metrics = api.train(tiny_config(tiny_bert_dir, tiny_task_dir, mode, mode_options=options), run_dir)
    stored = load_file(run_dir / api.WEIGHTS)
    assert metrics["training"]["artifact_bytes"] == sum(t.numel() * t.element_size() for t in stored.values())

    reloaded = api.load_run(run_dir)
    assert declared_names(reloaded.model) <= set(stored)
    test = load_task_data(str(tiny_task_dir)).split("test")
    saved = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines()]
    assert reloaded.predict(test) == saved


@pytest.mark.slow
@pytest.mark.parametrize("mode", ALL_MODES)
def test_fits_a_tiny_separable_task(mode, bert_tiny_dir, tiny_task_dir, tmp_path):
    """A frozen *random* encoder gives prompts nothing to steer, so this runs on the real bert-tiny."""
    data = load_task_data(str(tiny_task_dir))
    options = contract_options(mode, bert_tiny_dir, tmp_path)
    run = api.build(tiny_config(bert_tiny_dir, tiny_task_dir, mode, max_steps=60, mode_options=options), data)
    run.trainer.fit(run.pvp.encode(data.split("train")), [])
    assert run.evaluate(data.split("train"))["accuracy"] == 1.0
