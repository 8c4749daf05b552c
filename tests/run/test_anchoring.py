"""A run folder works from any directory: every path a mode option declares is anchored, not only ppt's.

A ``soft_prompt --mode-opt init=file:REL`` run (a prompt file given relative to where training ran) once
kept ``file:REL`` in its config.json, so loading it from another folder looked for the file there.
"""

from __future__ import annotations

import json
import os

import torch
from safetensors.torch import save_file
from typer.testing import CliRunner

from promptlearn import api
from promptlearn.cli import app
from tests.helpers.fixtures import TINY_TASK, write_task
from tests.helpers.modes import tiny_config


def test_a_soft_prompt_initialised_from_a_relative_file_loads_from_another_folder(tiny_bert_dir, tmp_path, monkeypatch):
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    write_task(work / "data", TINY_TASK)
    elsewhere.mkdir()
    hidden = json.loads((tiny_bert_dir / "config.json").read_text())["hidden_size"]
    save_file({"prompt": torch.randn(2, hidden)}, str(work / "prompt.safetensors"))
    monkeypatch.chdir(work)
    config = tiny_config(os.path.relpath(tiny_bert_dir, work), "data", "soft_prompt", max_steps=1,
                         mode_options={"init": "file:prompt.safetensors"})  # fmt: skip
    api.train(config, "runs/r")
    saved = json.loads((work / "runs" / "r" / "config.json").read_text())
    assert saved["mode_options"]["init"] == f"file:{(work / 'prompt.safetensors').resolve()}"
    assert saved["as_given"]["init"] == "file:prompt.safetensors"
    assert config.input_paths()["--init"] == "prompt.safetensors"  # the output may not overwrite it either

    monkeypatch.chdir(elsewhere)
    run = api.load_run("../work/runs/r")
    assert run.model.mode.length == 2
    evaluated = CliRunner().invoke(app, ["evaluate", "--run", "../work/runs/r"])
    assert evaluated.exit_code == 0, evaluated.output


def test_mode_options_without_their_path_prefix_are_left_as_they_are(tiny_bert_dir, tiny_task_dir):
    config = tiny_config(tiny_bert_dir, tiny_task_dir, "soft_prompt", mode_options={"init": "text:good bad"})
    anchored = config.anchored()
    assert anchored.mode_options == {"init": "text:good bad"} and "init" not in anchored.as_given
    assert "--init" not in config.input_paths()
