"""``init=run:PATH`` for deep prompts and adapters: the target run starts from the exact tensors the source run
trained, and a source whose tensors do not fit (another length, another placement, another mode) is refused."""

import pytest
import torch
from safetensors.torch import load_file

from promptlearn.errors import PromptlearnError
from promptlearn.run.pipeline import train
from promptlearn.run.prompted import build
from tests.helpers.marks import first_fast
from tests.helpers.modes import tiny_config


def _source(tiny_bert_dir, tiny_task_dir, tmp_path, mode: str, **options) -> str:
    folder = tmp_path / f"source-{mode}"
    train(tiny_config(tiny_bert_dir, tiny_task_dir, mode, max_steps=2, mode_options=options), folder)
    return str(folder)


@pytest.mark.parametrize(
    ("mode", "options", "scope"),
    first_fast(
        [
            ("adapter", {"placement": "pfeiffer"}, "mode.adapters."),
            ("ptuning_v2", {"prompt_length": 3}, "mode.prefix."),
            ("ptuning_v2", {"prompt_length": 3, "prefix_projection": True, "projection_hidden": 8}, "mode.prefix."),
        ]
    ),
)
def test_a_run_starts_from_the_source_runs_exact_tensors(tiny_bert_dir, tiny_task_dir, tmp_path, mode, options, scope):
    source = _source(tiny_bert_dir, tiny_task_dir, tmp_path, mode, **options)
    stored = {name: t for name, t in load_file(f"{source}/weights.safetensors").items() if name.startswith(scope)}
    target = build(tiny_config(tiny_bert_dir, tiny_task_dir, mode, mode_options=options | {"init": f"run:{source}"}))
    mine = {name: p.detach() for name, p in target.model.named_parameters() if name.startswith(scope)}
    assert stored and mine.keys() == stored.keys()
    assert all(torch.equal(mine[name], stored[name]) for name in stored)
    fresh = build(tiny_config(tiny_bert_dir, tiny_task_dir, mode, mode_options=options))
    assert any(not torch.equal(p.detach(), stored[n]) for n, p in fresh.model.named_parameters() if n in stored)


@pytest.mark.parametrize(
    ("source_mode", "source_options", "mode", "options", "message"),
    first_fast(
        [
            ("adapter", {"placement": "houlsby"}, "adapter", {"placement": "pfeiffer"}, "not in this run"),
            ("ptuning_v2", {"prompt_length": 3}, "ptuning_v2", {"prompt_length": 4}, "mode.prefix.prefix: stored"),
            ("adapter", {"placement": "pfeiffer"}, "adapter", {"placement": "houlsby"}, "no mode.adapters."),
            ("soft_prompt", {"prompt_length": 2}, "adapter", {}, "no mode.adapters.0"),
        ]
    ),
)
def test_a_source_whose_tensors_do_not_fit_is_refused(
    tiny_bert_dir, tiny_task_dir, tmp_path, source_mode, source_options, mode, options, message
):
    source = _source(tiny_bert_dir, tiny_task_dir, tmp_path, source_mode, **source_options)
    with pytest.raises(PromptlearnError, match="cannot start this run") as refused:
        build(tiny_config(tiny_bert_dir, tiny_task_dir, mode, mode_options=options | {"init": f"run:{source}"}))
    assert message in str(refused.value)


@pytest.mark.parametrize("mode", ["ptuning_v2", "adapter"])
def test_init_from_a_folder_that_is_no_run_is_refused_before_loading(tmp_path, mode):
    from promptlearn.modes import get_mode

    with pytest.raises(PromptlearnError, match="is not a trained run folder"):
        get_mode(mode).from_options({"init": f"run:{tmp_path}"})
