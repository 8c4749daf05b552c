"""The CLI side of the PEFT modes: ``train --mode-opt``, ``modes NAME``, ``export --merge``."""

import json

import pytest

from tests.helpers.cli import invoke, tiny_train_args


@pytest.mark.slow
def test_train_takes_typed_mode_options(tiny_bert_dir, tiny_task_dir, tmp_path):
    run = tmp_path / "run"
    args = tiny_train_args(tiny_bert_dir, tiny_task_dir, run)
    result = invoke(*args, "--mode", "lora", "--mode-opt", "r=2", "--mode-opt", "target=all-linear")
    assert result.exit_code == 0, result.output
    assert json.loads((run / "config.json").read_text())["mode_options"] == {"r": 2, "target": "all-linear"}
    assert {"adapter_config.json", "adapter_model.safetensors"} <= {p.name for p in (run / "adapter").iterdir()}

    merged = invoke("export", "--merge", run, tmp_path / "merged")
    assert merged.exit_code == 0, merged.output
    assert (tmp_path / "merged" / "config.json").is_file()
    assert (tmp_path / "merged" / "tokenizer_config.json").is_file()


def test_bad_mode_options_are_one_clear_error(tiny_bert_dir, tiny_task_dir, tmp_path):
    args = tiny_train_args(tiny_bert_dir, tiny_task_dir, tmp_path / "run")
    unknown = invoke(*args, "--mode", "adapter", "--mode-opt", "reduction=4")
    assert unknown.exit_code == 2
    assert "has no option 'reduction'; it takes: placement (str" in unknown.output
    assert "Traceback" not in unknown.output
    twice = invoke(*args, "--mode", "bitfit", "--readout", "cls", "--mode-opt", "readout=cls")
    assert twice.exit_code == 2
    assert "readout given both as a flag and as --mode-opt" in twice.output
    assert not (tmp_path / "run").exists()


def test_modes_lists_one_modes_options():
    result = invoke("modes", "pet")
    assert result.exit_code == 0, result.output
    assert "train_layers (str, default 'all')" in result.output
    assert "layer_lr_decay (float, default 1.0)" in result.output
    assert invoke("modes", "mlm_head").output.splitlines()[-1] == "options: none"


def test_export_needs_merge(tmp_path):
    result = invoke("export", tmp_path, tmp_path / "out")
    assert result.exit_code == 2
    assert "--merge" in result.output
