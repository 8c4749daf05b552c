"""``fewshot --backend ray``: the grid's runs as tasks on a real local Ray cluster (``ray start --head`` on
127.0.0.1, 2 CPUs, started by a fixture), each run once, a killed worker's run retried, a restart skipping all."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections import Counter

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from promptlearn.cli import app
from promptlearn.errors import PromptlearnError
from promptlearn.experiment import Experiment, run_experiment
from promptlearn.experiment.grid import GridOptions
from promptlearn.experiment.ray_backend import DRIVER, land, run_experiment_on_ray, run_task
from promptlearn.experiment.runner import RECORD
from promptlearn.outputs import FEWSHOT, mark_output
from tests.helpers.fewshot import comparable, experiment_values
from tests.helpers.fixtures import free_port, missing
from tests.helpers.ray_cluster import AUTH_MODE, Cluster, count_fits, fit_log


def _ray():
    try:
        import ray
    except ImportError:
        missing("ray is not installed (pip install 'promptlearn[ray]')")
    return ray


def results(output) -> list[dict]:
    return [json.loads(line) for line in (output / "results.jsonl").read_text().splitlines()]


def twelve_runs(model, data, output, **changes) -> dict:
    """pet and bitfit x 2 patterns x 3 seeds: 12 trained runs, one api.fit each, on one CPU thread wherever they
    run: a Ray task takes its ``cpus_per_run`` threads and the local backend its share of the cores, and float
    sums over another thread count may differ in the last bit."""
    changes = {"cpu_threads": 1} | changes
    return experiment_values(model, data, output, modes=["pet", "bitfit"], seeds=[13, 21, 42], **changes)


def without_place(records: list[dict], output) -> list[str]:
    """Records as JSON with the output folder's path and the timings taken out."""
    return [
        json.dumps({k: v for k, v in r.items() if k != "wall_seconds"}).replace(str(output), "OUT") for r in records
    ]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """The cluster, and this process connected to it with api.fit counted in every worker (into ``log``)."""
    ray = _ray()
    cluster = Cluster()
    log = tmp_path_factory.mktemp("fits") / "fits.log"
    hold = log.with_name("hold")
    env = {"FIT_LOG": str(log), "HOLD_FILE": str(hold), "OMP_NUM_THREADS": "1"}
    mode = os.environ.get(AUTH_MODE)
    os.environ[AUTH_MODE] = "disabled"  # as the cluster's (tests.helpers.ray_cluster)
    try:
        ray.init(address=cluster.address, runtime_env={"worker_process_setup_hook": count_fits, "env_vars": env})
        yield cluster, log, hold
    finally:
        ray.shutdown()
        cluster.stop()
        if mode is None:
            os.environ.pop(AUTH_MODE)
        else:
            os.environ[AUTH_MODE] = mode


def test_backend_ray_without_ray_installed_is_one_message(tiny_bert_dir, task_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump(experiment_values(tiny_bert_dir, task_dir, tmp_path / "out", modes=["zero-shot"])))
    result = CliRunner().invoke(app, ["fewshot", "--config", str(config), "--backend", "ray"])
    assert result.exit_code == 2
    assert "--backend ray needs Ray, which is not installed: pip install 'promptlearn[ray]'" in result.output


def test_an_address_nobody_answers_on_is_one_message(tiny_bert_dir, task_dir, tmp_path):
    _ray()
    config = tmp_path / "exp.yaml"
    values = experiment_values(tiny_bert_dir, task_dir, tmp_path / "out", modes=["zero-shot"], backend="ray")
    config.write_text(yaml.safe_dump(values))
    address = f"127.0.0.1:{free_port()}"
    result = CliRunner().invoke(app, ["fewshot", "--config", str(config), "--address", address])
    assert result.exit_code == 2
    assert f"No Ray cluster answers at --address {address}" in result.output


def test_the_experiment_file_sets_the_grid_options_and_checks_them(tiny_bert_dir, task_dir, tmp_path):
    values = experiment_values(tiny_bert_dir, task_dir, tmp_path / "out", backend="ray", retries=1, gpus_per_run=0.25)
    assert Experiment.from_dict(values).grid == {"backend": "ray", "gpus_per_run": 0.25, "retries": 1}
    with pytest.raises(PromptlearnError, match="command line: --backend must be one of local, ray, got 'slurm'"):
        Experiment.from_dict(experiment_values(tiny_bert_dir, task_dir, tmp_path / "out", backend="slurm"),
                             origin="command line")  # fmt: skip


def test_a_node_that_does_not_see_the_output_folder_ships_the_run_back_byte_identical(
    tiny_bert_dir, task_dir, tmp_path
):
    """The task writes the run where it runs, returns its files and removes them; the driver puts them back."""
    experiment = Experiment.from_dict(experiment_values(tiny_bert_dir, task_dir, tmp_path / "out", modes=["zero-shot"]))
    spec = experiment.runs()[0]
    output = tmp_path / "out"
    mark_output(output, FEWSHOT)
    (output / DRIVER).write_text("another driver's token")
    shipped = run_task(spec, str(output), 1, os.getcwd(), "this driver's token")
    names = (".promptlearn-run", "config.json", RECORD, "test_predictions.npz")
    assert sorted(shipped["files"]) == [f"runs/{spec.run_id}/{name}" for name in names]
    assert not (output / "runs" / spec.run_id).exists()  # the node keeps no copy
    record = land(output, spec, shipped)
    assert record["status"] == "ok"
    for name, data in shipped["files"].items():
        assert (output / name).read_bytes() == data
    # the same run in the driver's folder directly: the same record, apart from its timing
    (output / DRIVER).write_text("this driver's token")
    assert "files" not in run_task(spec, str(output), 1, os.getcwd(), "this driver's token")
    again = json.loads((output / "runs" / spec.run_id / RECORD).read_text())
    assert {k: v for k, v in again.items() if k != "wall_seconds"} == {
        k: v for k, v in record.items() if k != "wall_seconds"
    }


@pytest.mark.slow
def test_a_grid_on_ray_runs_each_run_once_like_the_local_backend_and_a_restart_skips_all(
    cluster, tiny_bert_dir, task_dir, tmp_path
):
    cluster, log, _ = cluster
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump(twelve_runs(tiny_bert_dir, task_dir, tmp_path / "out", backend="ray")))
    local = CliRunner().invoke(
        app, ["fewshot", "--config", str(config), "--backend", "local", "-o", str(tmp_path / "local")]
    )
    assert local.exit_code == 0, local.output
    before = len(fit_log(log))
    result = CliRunner().invoke(app, ["fewshot", "--config", str(config), "--address", cluster.address])
    assert result.exit_code == 0, result.output
    fits = fit_log(log)[before:]
    runs = [r["run_id"] for r in results(tmp_path / "local")]
    assert sorted(run for event, _, run in fits if event == "start") == sorted(runs)  # each run once, none twice
    ray_records = results(tmp_path / "out")
    assert without_place(ray_records, tmp_path / "out") == without_place(
        results(tmp_path / "local"), tmp_path / "local"
    )
    for run in runs:  # the run folders hold the same predictions and config
        config_of = {where: (tmp_path / where / "runs" / run / "config.json").read_text() for where in ("out", "local")}
        assert config_of["out"].replace(str(tmp_path / "out"), "OUT") == config_of["local"].replace(
            str(tmp_path / "local"), "OUT"
        )
        with (
            np.load(tmp_path / "out" / "runs" / run / "test_predictions.npz") as got,
            np.load(tmp_path / "local" / "runs" / run / "test_predictions.npz") as want,
        ):
            assert all(np.array_equal(got[key], want[key]) for key in want.files)
    assert not (tmp_path / "out" / DRIVER).exists()
    # a second invocation (flags, this time) finds every run finished and trains nothing
    again = CliRunner().invoke(
        app, ["fewshot", "--config", str(config), "--backend", "ray", "--address", cluster.address]
    )
    assert again.exit_code == 0, again.output
    assert len(fit_log(log)) == before + len(fits)
    assert results(tmp_path / "out") == ray_records


@pytest.mark.slow
def test_a_killed_worker_s_run_is_retried_and_every_run_ends_once(cluster, tiny_bert_dir, task_dir, tmp_path):
    cluster, log, hold = cluster
    held = "toy__bitfit__p0__k2__s21"
    hold.write_text(held)  # its first start waits until this test kills its worker process
    killed = []
    before = len(fit_log(log))

    def kill_the_held_run():
        deadline = time.time() + 240
        while time.time() < deadline:
            for event, pid, run in fit_log(log)[before:]:
                if event == "start" and run == held:
                    hold.unlink()
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
            time.sleep(0.2)

    killer = threading.Thread(target=kill_the_held_run)
    killer.start()
    experiment = Experiment.from_dict(twelve_runs(tiny_bert_dir, task_dir, tmp_path / "out"))
    records = run_experiment_on_ray(experiment, GridOptions(backend="ray", address=cluster.address))
    killer.join()
    assert killed, "the held run never started"
    fits = fit_log(log)[before:]
    starts = Counter(run for event, _, run in fits if event == "start")
    done = Counter(run for event, _, run in fits if event == "done")
    assert starts[held] == 2  # killed once, run again by Ray on a fresh worker
    assert set(done.values()) == {1} and len(done) == 12  # every run finished exactly once
    assert [r["status"] for r in records] == ["ok"] * 12
    assert sorted(r["run_id"] for r in results(tmp_path / "out")) == sorted(done)
    assert comparable(records) == comparable(
        run_experiment(Experiment.from_dict(twelve_runs(tiny_bert_dir, task_dir, tmp_path / "local")))
    )


@pytest.mark.slow
def test_ray_tasks_share_a_runs_optuna_study(cluster, tiny_bert_dir, task_dir, tmp_path):
    """The run's task and its helper tasks train the study's trials together on one journal file: the first
    trial is held until a second worker process has started another (the study's own task trains one trial
    at a time, so only a helper can), then exactly the study's trials are trained, none twice."""
    cluster, log, hold = cluster
    values = experiment_values(tiny_bert_dir, task_dir, tmp_path / "out", modes=["pet"], seeds=[13])
    values["tasks"][0]["patterns"] = values["tasks"][0]["patterns"][:1]
    values["search"] = {"backend": "optuna", "trials": 4, "space": {"learning_rate": {"log_uniform": [1e-5, 1e-3]}}}
    (spec,) = Experiment.from_dict(values).runs()
    before = len(fit_log(log))
    hold.write_text(spec.run_id)  # every trial trains in the run's folder: each start waits while this holds
    pids = []

    def release_once_two_processes_train():
        deadline = time.time() + 240
        while time.time() < deadline and len(pids) < 2:
            pids[:] = sorted({pid for event, pid, _ in fit_log(log)[before:] if event == "start"})
            time.sleep(0.2)
        hold.unlink()

    releaser = threading.Thread(target=release_once_two_processes_train)
    releaser.start()
    try:
        (record,) = run_experiment_on_ray(
            Experiment.from_dict(values), GridOptions(backend="ray", address=cluster.address)
        )
    finally:
        releaser.join()
    assert len(pids) >= 2, "no second worker process took a trial of the study"
    fits = fit_log(log)[before:]
    assert [event for event, _, _ in fits].count("start") == 4 and [event for event, _, _ in fits].count("done") == 4
    assert record["status"] == "ok" and record["study"]["trials"] == 4
