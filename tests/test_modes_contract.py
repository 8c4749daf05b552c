"""The contract every registered mode keeps: it trains exactly what it declares, reloads to the same
predictions, and can fit a tiny separable task. New modes join by registering themselves."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from promptlearn import api
from promptlearn.config import RunConfig
from promptlearn.data import load_task_data
from promptlearn.modes import MODES

ALL_MODES = sorted(MODES)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run far faster on one thread than on a shared, oversubscribed CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_config(model_dir, data_dir, mode: str, **changes) -> RunConfig:
    values = {
        "model": str(model_dir),
        "data": str(data_dir),
        "pattern": "{text} it was [MASK] .",
        "verbalizer": {"positive": ["great"], "negative": ["terrible"]},
        "mode": mode,
        "max_steps": 3,
        "eval_every": 1000,
        "batch_size": 3,
        "warmup_ratio": 0.0,
    }
    return RunConfig(**(values | changes))


def declared_names(model) -> set[str]:
    """Names of the parameters the mode's optimizer groups hold: what it says it trains."""
    declared = {id(p) for group in model.mode.param_groups(model, None) for p in group["params"]}
    return {name for name, p in model.named_parameters() if id(p) in declared}


@pytest.mark.parametrize("mode", ALL_MODES)
def test_exactly_the_declared_parameters_change(mode, tiny_bert_dir, tiny_task_dir):
    data = load_task_data(str(tiny_task_dir))
    run = api.build(tiny_config(tiny_bert_dir, tiny_task_dir, mode), data)
    declared = declared_names(run.model)
    assert declared, f"{mode} declares nothing to train"
    assert declared == {name for name, p in run.model.named_parameters() if p.requires_grad}
    before = {name: p.detach().clone() for name, p in run.model.named_parameters()}

    run.trainer.fit(run.pvp.encode(data.split("train")), [])

    changed = {name for name, p in run.model.named_parameters() if not torch.equal(p.detach(), before[name])}
    assert changed == declared, f"unchanged: {sorted(declared - changed)}; changed: {sorted(changed - declared)}"


@pytest.mark.parametrize("mode", ALL_MODES)
def test_save_load_gives_identical_predictions(mode, tiny_bert_dir, tiny_task_dir, tmp_path):
    run_dir = tmp_path / "run"
    metrics = api.train(tiny_config(tiny_bert_dir, tiny_task_dir, mode), run_dir)
    stored = load_file(run_dir / api.WEIGHTS)
    assert metrics["training"]["artifact_bytes"] == sum(t.numel() * t.element_size() for t in stored.values())

    reloaded = api.load_run(run_dir)
    assert declared_names(reloaded.model) <= set(stored)
    test = load_task_data(str(tiny_task_dir)).split("test")
    saved = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines()]
    assert reloaded.predict(test) == saved


@pytest.mark.slow
@pytest.mark.parametrize("mode", ALL_MODES)
def test_fits_a_tiny_separable_task(mode, bert_tiny_dir, tiny_task_dir):
    """A frozen *random* encoder gives prompts nothing to steer, so this runs on the real bert-tiny."""
    data = load_task_data(str(tiny_task_dir))
    run = api.build(tiny_config(bert_tiny_dir, tiny_task_dir, mode, max_steps=40), data)
    run.trainer.fit(run.pvp.encode(data.split("train")), [])
    assert run.evaluate(data.split("train"))["accuracy"] == 1.0
