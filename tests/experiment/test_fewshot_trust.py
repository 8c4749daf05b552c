"""The few-shot runner, issue 20: one encoding per prompt, one test subset per grid, safe names, checked YAML."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from promptlearn import api
from promptlearn.cli import app
from promptlearn.experiment import Experiment, run_experiment
from promptlearn.experiment.aggregate import ensemble_records
from promptlearn.experiment.runner import load_predictions, subset_rows
from promptlearn.pet.fewshot import run_cell
from tests.helpers.fixtures import write_task

ONE_TOKEN = {"positive": ["great"], "negative": ["terrible"]}
TWO_TOKEN = {"positive": ["great", "unbelievable"], "negative": ["terrible"]}  # un ##believ ##able: 3 masks


@pytest.fixture()
def task_dir(tmp_path):
    """6 train examples per label (K=2 train + K=2 dev), 6 test examples."""
    words = {"positive": ["wonderful", "fun", "great", "good", "loved", "very fun"],
             "negative": ["awful", "boring", "terrible", "bad", "hated", "not fun"]}  # fmt: skip
    train = [{"text": f"the movie was {w}", "label": label} for label, ws in words.items() for w in ws]
    test = [{"text": f"it was {w}", "label": label} for label, ws in words.items() for w in ws[:3]]
    return write_task(tmp_path / "toy", {"train": train, "test": test})


def values_of(model, data, output, **changes) -> dict:
    values = {
        "model": str(model), "output": str(output), "modes": ["zero-shot"], "shots": [2], "seeds": [13],
        "tasks": [{"name": "toy", "data": str(data), "patterns": ["{text} It was [MASK] ."], "verbalizer": ONE_TOKEN}],
        "train": {"max_steps": 2, "eval_every": 1, "batch_size": 2, "precision": "fp32"},
    }  # fmt: skip
    return values | changes


def write_config(tmp_path, values) -> str:
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(values))
    return str(path)


# --- item 1: the test encoding is keyed on everything it depends on --------------------------------


def test_a_multi_token_verbalizer_is_scored_on_its_own_encoding_in_a_grid(tiny_bert_dir, task_dir, tmp_path):
    one = {"name": "one", "data": str(task_dir), "patterns": ["{text} It was [MASK] ."], "verbalizer": ONE_TOKEN}
    two = one | {"name": "two", "verbalizer": TWO_TOKEN}
    run_experiment(Experiment.from_dict(values_of(tiny_bert_dir, task_dir, tmp_path / "grid", tasks=[one, two])))
    run_experiment(Experiment.from_dict(values_of(tiny_bert_dir, task_dir, tmp_path / "alone", tasks=[two])))
    in_grid = load_predictions(tmp_path / "grid", "two__zero-shot__p0")["test"][0]
    alone = load_predictions(tmp_path / "alone", "two__zero-shot__p0")["test"][0]
    np.testing.assert_allclose(in_grid, alone, rtol=1e-6, atol=1e-7)
    one_token = load_predictions(tmp_path / "grid", "one__zero-shot__p0")["test"][0]
    assert not np.allclose(one_token, in_grid)  # the two prompts do score differently


# --- items 17 and 22: names that stay inside --output, every YAML value checked before the first run -------


def test_a_task_name_cannot_write_outside_the_output_folder(tiny_bert_dir, task_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(api, "fit", lambda *args: pytest.fail("a run started"))
    output = tmp_path / "a" / "b" / "out"
    values = values_of(tiny_bert_dir, task_dir, output)
    values["tasks"][0]["name"] = "../../../x"
    result = CliRunner().invoke(app, ["fewshot", "--config", write_config(tmp_path, values)])
    assert result.exit_code == 2, result.output
    assert "tasks[0]: name '../../../x' is not a usable name: names become file names" in result.output
    assert not output.exists() and not list(tmp_path.glob("x*")) and not list(tmp_path.rglob("*.lock"))
    flags = [
        "fewshot",
        "--model",
        str(tiny_bert_dir),
        "--task",
        "a/b",
        "--data",
        str(task_dir),
        "--output",
        str(output),
    ]
    result = CliRunner().invoke(app, flags)
    assert result.exit_code == 2 and "name 'a/b' is not a usable name" in result.output
    values = values_of(tiny_bert_dir, task_dir, output, modes=["zero-shot", "pet"], ensembles={".hidden": ["pet"]})
    result = CliRunner().invoke(app, ["fewshot", "--config", write_config(tmp_path, values)])
    assert result.exit_code == 2 and "ensemble name '.hidden' is not a usable name" in result.output


def _task_change(**changes):
    return lambda values: values["tasks"][0].update(changes)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seeds": [13, -1]}, "seeds must be a list of integers from 0 to 4294967295, got [13, -1]"),
        ({"model": ["bert"]}, "model must be a string, got ['bert'] (list)"),
        ({"output": ["out"]}, "output must be a string, got ['out'] (list)"),
        ({"report": {"folder": "r"}}, "report must be a string, got {'folder': 'r'} (dict)"),
        ({"data_root": [1]}, "data_root must be a string, got [1] (list)"),
        ({"dev_split": 3}, "dev_split must be a string, got 3 (int)"),
        ({"max_test_examples": True}, "max_test_examples must be a positive integer, got True"),
        ({"modes": [["pet"]]}, "modes: unknown mode ['pet']"),
        ({"modes": ["pet"], "mode_settings": {"pet": [1]}}, "mode_settings.pet must be a mapping of RunConfig fields"),
        ({"mode_settings": {"head": {"batch_size": "8"}}}, "mode_settings.head: batch_size must be an integer"),
        ({"search": {"learning_rate": ["fast"]}}, "train: learning_rate must be a number or null, got 'fast'"),
        (_task_change(data=3), "tasks[0]: data must be a string, got 3 (int)"),
        (_task_change(text_column=["t"]), "tasks[0]: text_column must be a string, got ['t'] (list)"),
        (_task_change(patterns=[["{text} [MASK]"]]), "tasks[0]: patterns[0] is a pattern text or a preset pattern id"),
        (_task_change(patterns=[True]), "tasks[0]: patterns[0] is a pattern text or a preset pattern id, got True"),
        (
            _task_change(verbalizer=["great", "terrible"]),
            "tasks[0]: verbalizer is a mapping of each label to its words",
        ),
    ],
)
def test_every_value_of_the_experiment_file_is_checked_before_the_first_run(
    tiny_bert_dir, task_dir, tmp_path, monkeypatch, change, message
):
    monkeypatch.setattr(api, "fit", lambda *args: pytest.fail("a run started"))
    monkeypatch.chdir(tmp_path)
    values = values_of(tiny_bert_dir, task_dir, tmp_path / "out")
    if callable(change):
        change(values)
    else:
        values |= change
    config = write_config(tmp_path, values)
    result = CliRunner().invoke(app, ["fewshot", "--config", config])
    assert result.exit_code == 2, result.output
    assert f"Error: {config}: " in result.output and message in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exp.yaml", "toy"]  # nothing written


# --- item 4: zero-shot runs join every K and seed of a named ensemble ---------------------------


def _record(run_id, mode, pattern, shots, seed) -> dict:
    test = {"accuracy": 0.0, "macro_f1": 0.0, "top_class_share": 0.5, "majority_accuracy": 0.5}
    return {"run_id": run_id, "task": "t", "mode": mode, "pattern_id": pattern, "shots": shots, "seed": seed,
            "status": "ok", "labels": ["a", "b"], "dev": None, "test": test, "wall_seconds": 1.0}  # fmt: skip


def test_a_named_ensemble_mixes_zero_shot_runs_into_every_k_and_seed():
    records = [
        _record("z0", "zero-shot", 0, None, None),
        _record("z1", "zero-shot", 1, None, None),
        _record("p13", "pet", 0, 4, 13),
        _record("p21", "pet", 0, 4, 21),
    ]
    gold = np.array([0, 1])
    probs = {  # zero-shot leans to class 0, pet to class 1 on seed 13 and to class 0 on seed 21
        "z0": [[0.9, 0.1], [0.8, 0.2]],
        "z1": [[0.7, 0.3], [0.6, 0.4]],
        "p13": [[0.0, 1.0], [0.0, 1.0]],
        "p21": [[0.6, 0.4], [0.6, 0.4]],
    }
    stored = {run_id: {"test": (np.array(p), gold)} for run_id, p in probs.items()}
    combo = [r for r in ensemble_records(records, stored.get, {"combo": ["zero-shot", "pet"]}) if r["mode"] == "combo"]
    assert [(r["shots"], r["seed"], r["members"]) for r in combo] == [
        (4, 13, ["p13", "z0", "z1"]),
        (4, 21, ["p21", "z0", "z1"]),
    ]
    by_seed = {r["seed"]: r for r in combo}
    # seed 13: means [0.533, 0.467] and [0.467, 0.533]: both right; seed 21: [0.733, .267], [0.667, .333]: one right
    assert by_seed[13]["test"]["accuracy"] == pytest.approx(1.0) and by_seed[21]["test"]["accuracy"] == 0.5
    assert by_seed[13]["dev"] is None  # zero-shot runs have no dev predictions
    alone = ensemble_records(records[:2], stored.get, {"combo": ["zero-shot", "pet"]})
    assert [(r["mode"], r["shots"], r["members"]) for r in alone][-1] == ("combo", None, ["z0", "z1"])


# --- items 6 and 9: one test subset for every run of a grid, PET's cells included ------------------


@pytest.mark.slow
def test_pet_cells_share_the_grids_test_subset_so_a_mixed_ensemble_reports(tiny_bert_dir, task_dir, tmp_path):
    values = values_of(tiny_bert_dir, task_dir, tmp_path / "out", modes=["pet", "pet-ensemble"])
    values |= {"max_test_examples": 4, "ensembles": {"mix": ["pet", "pet-ensemble"]}}
    result = CliRunner().invoke(app, ["fewshot", "--config", write_config(tmp_path, values)])
    assert result.exit_code == 0, result.output
    pet = load_predictions(tmp_path / "out", "toy__pet__p0__k2__s13")["test"]
    cell = load_predictions(tmp_path / "out", "toy__pet-ensemble__p0__k2__s13")["test"]
    assert len(cell[1]) == 4 and np.array_equal(cell[1], pet[1])
    # the cell's rows are those of the pipeline's whole-test ensemble at the subset's indices
    whole = run_cell("pet-ensemble", Experiment.from_dict(values).runs()[-1].config, [(0, "{text} It was [MASK] .")],
                     tmp_path / "out" / "pet" / "toy__g0__k2__s13")  # fmt: skip
    rows = subset_rows(len(whole[1]), 4)
    np.testing.assert_allclose(cell[0], whole[0][rows], rtol=1e-6)
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "| mix | 2 | ensemble |" in summary and "test examples: 4;" in summary
