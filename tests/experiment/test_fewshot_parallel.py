"""Several processes share one few-shot grid: `accelerate launch`, `--workers`, and a process that dies."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest
import yaml
from typer.testing import CliRunner

from promptlearn.cli import app
from promptlearn.experiment import Experiment, run_experiment
from promptlearn.experiment import runner as runner_module
from promptlearn.experiment.shard import CLAIMS, LOCK
from promptlearn.outputs import FEWSHOT, mark_output
from tests.helpers.fewshot import comparable, experiment_values
from tests.helpers.fixtures import REPO, free_port

pytestmark = pytest.mark.slow  # each test starts processes that import torch, or waits for one to die


def results(output) -> list[dict]:
    return [json.loads(line) for line in (output / "results.jsonl").read_text().splitlines()]


@pytest.fixture()
def grid(tiny_bert_dir, task_dir, tmp_path):
    """A 6-run grid (2 zero-shot, 4 pet) and its results from one process, for reference."""
    values = experiment_values(tiny_bert_dir, task_dir, tmp_path / "out")
    reference = run_experiment(Experiment.from_dict(experiment_values(tiny_bert_dir, task_dir, tmp_path / "ref")))
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump(values))
    return config, tmp_path / "out", reference


@pytest.mark.skipif(shutil.which("accelerate") is None, reason="the accelerate launcher is not on PATH")
def test_accelerate_launch_shards_the_grid_over_two_processes(grid, tmp_path):
    config, output, reference = grid
    command = [
        "accelerate", "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
        str(REPO / "cli.py"), "fewshot", "--config", str(config),
    ]  # fmt: skip
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
                        "ACCELERATE_USE_CPU": "1", "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    logs = done.stdout + done.stderr
    # Both processes took part (the non-main one says so below); how many runs each took depends on which
    # started first, so a loaded machine may give all six to one: the --workers test pins the sharing itself.
    assert "of 2: toy__" in logs
    assert logs.count("runs finished (0 failed)") == 1  # the summary is written once, by the main process
    assert logs.count("the main process writes the summary") == 1
    # each run trained alone (no gradient all-reduce between different runs): the same numbers as one process
    assert comparable(results(output)) == comparable(reference)
    assert (output / "summary.md").is_file()
    assert not [p for p in output.rglob("*") if p.name.endswith((".partial", ".tmp"))]


def test_workers_flag_shares_the_grid_between_processes(grid, capfd, monkeypatch):
    config, output, reference = grid
    real_execute = runner_module.execute

    def execute_once_another_process_ran_one(spec, out, cache):
        deadline = time.time() + 120  # starting a process that imports torch takes a few seconds
        while not list((out / "runs").glob("*/record.json")) and time.time() < deadline:
            time.sleep(0.2)
        return real_execute(spec, out, cache)

    monkeypatch.setattr(runner_module, "execute", execute_once_another_process_ran_one)
    result = CliRunner().invoke(app, ["fewshot", "--config", str(config), "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert "process 1 of 2: toy__" in capfd.readouterr().err  # the started process ran runs
    assert comparable(results(output)) == comparable(reference)
    assert "--workers" not in (output / "summary.md").read_text()  # it does not change the numbers


def test_a_run_left_by_a_dead_process_is_run_by_the_main_one(tiny_bert_dir, task_dir, tmp_path, monkeypatch):
    values = experiment_values(tiny_bert_dir, task_dir, tmp_path / "out", modes=["zero-shot"])
    experiment = Experiment.from_dict(values)
    held = experiment.runs()[0].run_id
    lock = tmp_path / "out" / CLAIMS / f"{held}{LOCK}"
    lock.parent.mkdir(parents=True)
    mark_output(tmp_path / "out", FEWSHOT)  # the other process started the experiment folder
    holder = subprocess.Popen(  # another process that claimed the first run, then dies while running it
        [sys.executable, "-c", "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR); "
         "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(120)", str(lock)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    monkeypatch.setattr(runner_module, "POLL_SECONDS", 0.1)
    killed = []
    killer = threading.Timer(2.0, lambda: killed.append(time.time()) or holder.kill())
    killer.start()
    try:
        records = run_experiment(experiment)  # runs the other run, waits for the holder, then runs its run
    finally:
        killer.cancel()
        holder.kill()
        holder.wait()
    assert [r["run_id"] for r in records] == [s.run_id for s in experiment.runs()]
    assert all(r["status"] == "ok" for r in records)
    assert (tmp_path / "out" / "runs" / held / "record.json").stat().st_mtime > killed[0]  # not while it was held
