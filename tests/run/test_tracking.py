"""--report-to: accelerate's trackers get the config, every evaluation, the final metrics and the run folder,
and the run itself (its numbers, its files) stays exactly what it is without them. All offline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from promptlearn import api
from promptlearn.errors import PromptlearnError
from promptlearn.run import tracking
from promptlearn.run.config import RunConfig
from tests.helpers.cli import invoke, tiny_train_args
from tests.helpers.fewshot import NEGATIVE, POSITIVE, experiment_values
from tests.helpers.fixtures import write_task
from tests.helpers.modes import tiny_config

#: four steps, evaluated at steps 2 and 4
STEPS = {"max_steps": 4, "eval_every": 2}


def run_files(folder: Path) -> dict[str, bytes]:
    """Every file of a run folder by name; metrics.json without its wall-clock times."""
    files = {path.name: path.read_bytes() for path in folder.iterdir()}
    metrics = json.loads(files.pop("metrics.json"))
    metrics["training"].pop("wall_seconds")
    return files | {"metrics.json": json.dumps(metrics).encode()}


def scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """The scalars of a TensorBoard run folder by tag, as (step, value)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def hparams(folder: Path) -> dict:
    """The hyperparameters TensorBoard's HParams tab shows for a run folder (in a subfolder of it)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    (sub,) = [path for path in folder.iterdir() if path.is_dir() and any(path.glob("events.*"))]
    events = EventAccumulator(str(sub))
    events.Reload()
    content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    values = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
    return {
        name: value.WhichOneof("kind") and getattr(value, value.WhichOneof("kind")) for name, value in values.items()
    }


# --- checked before training -----------------------------------------------------------------


@pytest.mark.parametrize("value", ["bogus", "tensorboard,bogus", "none,tensorboard", ",", "TensorBoard"])
def test_an_unknown_tracker_is_refused_when_the_config_is_made(tiny_bert_dir, tiny_task_dir, value):
    with pytest.raises(PromptlearnError, match="--report-to must be none or trackers from tensorboard, mlflow"):
        tiny_config(tiny_bert_dir, tiny_task_dir, "pet", report_to=value)


def test_a_tracker_whose_package_is_missing_names_the_extra_to_install(tiny_bert_dir, tiny_task_dir, monkeypatch):
    monkeypatch.setitem(tracking.TRACKERS, "mlflow", ("no_such_package_here", 'pip install "promptlearn[tracking]"'))
    with pytest.raises(PromptlearnError) as caught:
        tiny_config(tiny_bert_dir, tiny_task_dir, "pet", report_to="tensorboard,mlflow")
    assert str(caught.value) == (
        "--report-to mlflow needs the package no_such_package_here, which is not installed: "
        'pip install "promptlearn[tracking]"'
    )


def test_the_command_line_refuses_a_bad_tracker_with_exit_2_before_training(tiny_bert_dir, tiny_task_dir, tmp_path):
    result = invoke(*tiny_train_args(tiny_bert_dir, tiny_task_dir, tmp_path / "run"), "--report-to", "tensorbord")
    assert result.exit_code == 2
    assert "--report-to must be none or trackers from tensorboard, mlflow, wandb, trackio" in result.output
    assert not (tmp_path / "run").exists()


def test_names_are_read_comma_separated_in_order_without_repeats():
    assert tracking.tracker_names("none") == []
    assert tracking.tracker_names(" mlflow , tensorboard,mlflow") == ["mlflow", "tensorboard"]


def test_tracking_options_stay_out_of_config_json(tiny_bert_dir, tiny_task_dir):
    """Where a run is reported is not what it computes: config.json and a grid's fingerprints never hold it."""
    config = tiny_config(tiny_bert_dir, tiny_task_dir, "pet", report_to="tensorboard", tracking_project="p")
    saved = config.to_dict()
    assert not {"report_to", "tracking_dir", "tracking_project"} & set(saved)
    assert saved == tiny_config(tiny_bert_dir, tiny_task_dir, "pet").to_dict()
    assert RunConfig.from_dict(saved).report_to == "none"


def test_the_tracking_module_imports_no_tracker():
    """RunConfig imports every feature: the command line checks its input before any of these would load."""
    trackers = {"accelerate", "tensorboard", "mlflow", "wandb"}
    code = f"import sys, promptlearn.run.config; print(sorted({trackers!r} & set(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_hyperparameters_are_flat_scalars():
    settings = {"seed": 13, "lr": None, "verbalizer": {"positive": ["great"]}, "as_given": {}, "compile": False}
    assert tracking.hyperparameters(settings) == {
        "seed": 13,
        "lr": "null",
        "verbalizer.positive": '["great"]',
        "as_given": "{}",
        "compile": False,
    }


# --- what the trackers receive ---------------------------------------------------------------


@pytest.mark.slow
def test_tensorboard_gets_every_evaluation_and_the_run_is_unchanged(tiny_bert_dir, tiny_task_dir, tmp_path):
    config = tiny_config(tiny_bert_dir, tiny_task_dir, "pet", **STEPS)
    plain = api.train(config, tmp_path / "plain")
    tracked = api.train(config.replace(report_to="tensorboard"), tmp_path / "tracked")

    assert run_files(tmp_path / "tracked") == run_files(tmp_path / "plain")  # byte for byte
    assert not (tmp_path / "plain").with_name("tracking").joinpath("promptlearn", "plain").exists()
    # the default folder: tracking/ beside the run folder, one project folder, one folder per run
    folder = tmp_path / "tracking" / "promptlearn" / "tracked"
    found = scalars(folder)
    history = tracked["training"]["history"]
    assert [step for step, _ in found["dev/accuracy"]] == [2, 4]
    assert [v for _, v in found["dev/accuracy"]] == pytest.approx([h["accuracy"] for h in history])
    assert [v for _, v in found["dev/macro_f1"]] == pytest.approx([h["macro_f1"] for h in history])
    assert [v for _, v in found["train/loss"]] == pytest.approx([h["loss"] for h in history])
    assert [step for step, _ in found["train/learning_rate/model"]] == [2, 4]
    assert found["final/test/accuracy"] == [(4, pytest.approx(plain["test"]["accuracy"]))]
    assert found["final/dev/accuracy"] == [(4, pytest.approx(plain["dev"]["accuracy"]))]
    shown = hparams(folder)
    assert (shown["mode"], shown["max_steps"], shown["eval_every"]) == ("pet", 4, 2)
    assert shown["verbalizer.positive"] == '["great"]' and "report_to" not in shown


@pytest.mark.slow
def test_mlflow_gets_params_metrics_and_the_run_folder(tiny_bert_dir, tiny_task_dir, tmp_path, monkeypatch):
    import mlflow

    store = f"file:{tmp_path / 'mlruns'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 refuses its file store unless told
    config = tiny_config(tiny_bert_dir, tiny_task_dir, "pet", report_to="mlflow", tracking_project="tiny", **STEPS)
    metrics = api.train(config, tmp_path / "run-a", overwrite=True)

    client = mlflow.tracking.MlflowClient(store)
    (found,) = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    assert found.info.run_name == "run-a" and found.info.status == "FINISHED"
    assert (found.data.params["mode"], found.data.params["max_steps"]) == ("pet", "4")
    accuracy = client.get_metric_history(found.info.run_id, "dev/accuracy")
    assert [(m.step, m.value) for m in accuracy] == [
        (h["step"], pytest.approx(h["accuracy"])) for h in metrics["training"]["history"]
    ]
    assert found.data.metrics["final/test/macro_f1"] == pytest.approx(metrics["test"]["macro_f1"])
    artifacts = Path(found.info.artifact_uri.removeprefix("file://"))
    written = {path.name: path.read_bytes() for path in (tmp_path / "run-a").iterdir()}
    assert {path.name: path.read_bytes() for path in artifacts.iterdir()} == written


@pytest.mark.slow
def test_wandb_offline_gets_a_run_with_the_folder(tiny_bert_dir, tiny_task_dir, tmp_path, monkeypatch):
    pytest.importorskip("wandb", reason="wandb is optional: pip install wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    config = tiny_config(tiny_bert_dir, tiny_task_dir, "pet", report_to="wandb", tracking_dir=str(tmp_path / "t"))
    api.train(config.replace(**STEPS), tmp_path / "run")
    (offline,) = (tmp_path / "t" / "wandb").glob("offline-run-*")
    assert any(offline.glob("run-*.wandb"))


@pytest.mark.slow
def test_a_grid_groups_its_runs_in_one_project(tiny_bert_dir, tmp_path):
    from promptlearn.experiment import Experiment, run_experiment

    rows = [
        {"text": f"the movie was {w}", "label": label}
        for label, ws in (("positive", POSITIVE), ("negative", NEGATIVE))
        for w in ws
    ]
    data = write_task(tmp_path / "toy", {"train": rows, "test": rows[:3] + rows[-3:]})
    values = experiment_values(tiny_bert_dir, data, tmp_path / "grid", modes=["pet"], seeds=[13, 21])
    values["tasks"][0]["patterns"] = values["tasks"][0]["patterns"][:1]
    values["train"] |= {"report_to": "tensorboard", "max_steps": 2, "eval_every": 1}
    records = run_experiment(Experiment.from_dict(values))

    project = tmp_path / "grid" / "tracking" / "grid"
    assert sorted(path.name for path in project.iterdir()) == [r["run_id"] for r in records]
    for record in records:
        found = scalars(project / record["run_id"])
        assert [step for step, _ in found["dev/accuracy"]] == [1, 2]
        assert found["final/test/accuracy"] == [(2, pytest.approx(record["test"]["accuracy"]))]
        assert "report_to" not in record["config"]


def test_a_saved_config_rerun_still_takes_where_to_report_from_the_command_line(tiny_bert_dir, tiny_task_dir, tmp_path):
    """`train --config` ignores the other options given (the file decides the run), not the unsaved ones."""
    from promptlearn.run.options import train_config

    saved = tmp_path / "config.json"
    saved.write_text(json.dumps(tiny_config(tiny_bert_dir, tiny_task_dir, "pet").to_dict()))
    given = {"report_to": "tensorboard", "tracking_project": "again", "seed": 99}
    config = train_config(saved, None, None, None, None, None, None, given, None, {})
    assert (config.report_to, config.tracking_project, config.seed) == ("tensorboard", "again", 13)
