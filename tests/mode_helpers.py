"""Helpers shared by the mode test files: one-thread torch, a tiny run config, what a mode declares."""

from __future__ import annotations

import pytest
import torch

from promptlearn.config import RunConfig


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
