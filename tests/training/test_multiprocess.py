"""Training under ``accelerate launch`` with 2 processes (DDP over gloo, on CPU) needs no code change."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess

import pytest
from safetensors.torch import load_file

from tests.helpers.fixtures import REPO, free_port


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("accelerate") is None, reason="the accelerate launcher is not on PATH")
def test_two_processes_train_identical_weights(tiny_bert_dir, tiny_task_dir, tmp_path):
    # --multi_gpu starts the processes (torchrun); ACCELERATE_USE_CPU=1 makes them use DDP over gloo on CPU.
    command = [
        "accelerate", "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
        str(REPO / "tests" / "helpers" / "ddp_worker.py"), str(tiny_bert_dir), str(tiny_task_dir), str(tmp_path),
    ]  # fmt: skip
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
                        "ACCELERATE_USE_CPU": "1", "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]

    infos = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [i["num_processes"] for i in infos] == [2, 2], infos
    assert all(i["changed_tensors"] > 0 for i in infos)  # training happened
    # 2 epochs of 3 examples at batch size 1 over 2 processes: each process takes 2 batches per epoch.
    assert [i["epoch_steps"] for i in infos] == [2 * math.ceil(infos[0]["train_examples"] / 2)] * 2
    first, second = (load_file(tmp_path / f"rank{r}.safetensors") for r in (0, 1))
    assert first.keys() == second.keys()
    # Each process saw different batches; identical weights mean the gradients were all-reduced.
    assert all(first[name].equal(second[name]) for name in first)
    assert (tmp_path / "run" / "metrics.json").is_file()  # written once, by the main process
    assert not list(tmp_path.glob(".run.*"))  # no leftover staging folder from another process
