"""Issue 29 in the few-shot grid: grids that move past an edge, the report's under-training flags, and named
ensembles that leave out members no better than guessing on dev."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from promptlearn.experiment import Experiment, run_experiment
from promptlearn.experiment import runner as grid_runner
from promptlearn.experiment.aggregate import ensemble_records
from promptlearn.experiment.report_warnings import grid_warnings
from tests.helpers.fewshot import experiment_values


def _scored_by_learning_rate(monkeypatch, accuracy):
    """Every run's dev accuracy becomes ``accuracy(learning_rate)``, so the search's choice is known in advance."""
    fit = grid_runner.api.fit

    def scored(config, *args, **kwargs):
        run, metrics = fit(config, *args, **kwargs)
        metrics["dev"] = metrics["dev"] | {"accuracy": accuracy(config.learning_rate), "macro_f1": 0.5}
        return run, metrics

    monkeypatch.setattr(grid_runner.api, "fit", scored)


def _one_run(tiny_bert_dir, task_dir, tmp_path, grid, extend):
    values = experiment_values(tiny_bert_dir, task_dir, tmp_path / "out", modes=["head"], seeds=[13])
    values |= {"search": {"learning_rate": grid}, "search_extend": extend}
    (record,) = run_experiment(Experiment.from_dict(values))
    return record


@pytest.mark.slow
def test_a_grid_whose_best_is_at_its_edge_moves_up_to_its_limit(tiny_bert_dir, task_dir, tmp_path, monkeypatch):
    _scored_by_learning_rate(monkeypatch, lambda lr: math.log10(lr) / 10 + 1)  # the larger, the better
    record = _one_run(tiny_bert_dir, task_dir, tmp_path, [1e-4, 1e-3], extend=2)
    # 1e-3 * (1e-3 / 1e-4) = 1e-2, then 1e-1; the limit of 2 stops it there, still at the edge
    assert record["extended"] == [{"learning_rate": 0.01}, {"learning_rate": 0.1}]
    assert [t["learning_rate"] for t in record["search"]] == [1e-4, 1e-3, 0.01, 0.1]
    assert record["config"]["learning_rate"] == 0.1


@pytest.mark.slow
def test_a_grid_whose_best_is_inside_does_not_move(tiny_bert_dir, task_dir, tmp_path, monkeypatch):
    _scored_by_learning_rate(monkeypatch, lambda lr: 0.9 if lr == 1e-3 else 0.5)
    record = _one_run(tiny_bert_dir, task_dir, tmp_path, [1e-4, 1e-3, 1e-2], extend=2)
    assert "extended" not in record and len(record["search"]) == 3


def test_search_extend_is_off_by_default_and_checked(tiny_bert_dir, task_dir, tmp_path):
    values = experiment_values(tiny_bert_dir, task_dir, tmp_path / "out", modes=["head"])
    values["search"] = {"learning_rate": [1e-4, 1e-3]}
    assert {spec.extend for spec in Experiment.from_dict(values).runs()} == {0}
    assert {spec.extend for spec in Experiment.from_dict(values | {"search_extend": 3}).runs()} == {3}
    with pytest.raises(Exception, match="search_extend must be a whole number"):
        Experiment.from_dict(values | {"search_extend": -1})


def _record(seed, kept_lr, best_step, steps, pattern=0):
    search = [{"learning_rate": lr, "dev": {"accuracy": 0.9 if lr == kept_lr else 0.5, "macro_f1": 0.5}}
              for lr in (1e-5, 1e-4, 1e-3)]  # fmt: skip
    return {
        "run_id": f"t__pet__p{pattern}__k16__s{seed}", "task": "t", "mode": "pet", "pattern_id": pattern,
        "shots": 16, "seed": seed, "status": "ok", "labels": ["a", "b"], "dev": {"accuracy": 0.9},
        "search": search, "best_step": best_step, "history": [{"step": s} for s in steps],
    }  # fmt: skip


def test_the_report_flags_grid_edges_and_last_step_checkpoints_per_task_and_mode():
    records = [
        _record(13, 1e-3, 100, [25, 50, 75, 100]),  # edge, best at the last evaluation
        _record(21, 1e-5, 50, [25, 50, 75, 100]),  # edge (bottom), best before the end
        _record(42, 1e-4, 100, [25, 50, 75, 100]),  # inside, best at the last evaluation
        _record(87, 1e-4, 50, [25, 50]),  # two evaluations only: not read as "at the last"
    ]
    texts = [w.text for w in grid_warnings([], records, lambda run_id: None) if w.task == "t"]
    assert "pet, K=16: chosen value at the grid's edge in 2/4 runs (search_extend moves the grid past it)" in texts
    last = [t for t in texts if "best checkpoint at the last evaluation" in t]
    assert last == [
        "pet, K=16: best checkpoint at the last evaluation in 2/4 runs: dev was still improving when training "
        "stopped (more steps, or steps: auto)"
    ]


def test_no_flag_when_no_run_is_at_an_edge_or_ends_on_its_best():
    records = [_record(13, 1e-4, 50, [25, 50, 75, 100])]
    assert not [w for w in grid_warnings([], records, lambda run_id: None) if w.task == "t"]


def test_a_filtered_named_ensemble_weighs_out_members_no_better_than_guessing_on_dev():
    def member(run_id, mode):
        return {"run_id": run_id, "task": "t", "mode": mode, "pattern_id": 0, "shots": 2, "seed": 13,
                "status": "ok", "labels": ["a", "b"], "wall_seconds": 1.0}  # fmt: skip

    gold = np.array([0, 0, 1, 1])
    probs = {
        "pet": [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.4, 0.6]],  # dev 4/4
        "head": [[0.2, 0.8], [0.1, 0.9], [0.1, 0.9], [0.2, 0.8]],  # dev 2/4: always b, no better than guessing
    }
    stored = {k: {"test": (np.array(v), gold), "dev": (np.array(v), gold)} for k, v in probs.items()}
    records = [member("pet", "pet"), member("head", "head")]
    plain, filtered = (
        next(r for r in ensemble_records(records, stored.get, {"recipe": ["pet", "head"]}, on) if r["mode"] == "recipe")
        for on in (False, True)
    )
    # the plain mean: [.55,.45], [.45,.55], [.2,.8], [.3,.7] -> 3/4; without head, pet's 4/4
    assert plain["test"]["accuracy"] == pytest.approx(0.75) and "left_out" not in plain
    assert filtered["members"] == ["pet"] and filtered["left_out"] == ["head"] and filtered["weights"] == [1.0]
    assert filtered["test"]["accuracy"] == pytest.approx(1.0)


@pytest.mark.slow
def test_a_task_with_recipe_auto_trains_one_recipe_folder_per_seed(tiny_bert_dir, task_dir, tmp_path):
    values = experiment_values(tiny_bert_dir, task_dir, tmp_path / "out", modes=["head"], seeds=[13])
    values["tasks"][0]["recipe"] = "auto"
    values["train"] = {"steps_epochs": 1, "steps_min": 2, "steps_max": 2, "batch_size": 2}
    records = {r["mode"]: r for r in run_experiment(Experiment.from_dict(values))}
    recipe = records["recipe-auto"]
    assert recipe["status"] == "ok", recipe.get("error")
    folder = tmp_path / "out" / "recipes" / recipe["run_id"]
    stored = json.loads((folder / "metrics.json").read_text())
    assert recipe["test"]["accuracy"] == pytest.approx(stored["test"]["accuracy"])
    members = json.loads((folder / "recipe.json").read_text())["members"]
    assert [m["name"] for m in members] == ["pet-p0", "pet-p1", "mlm_head-p0", "mlm_head-p1", "head"]
    with pytest.raises(Exception, match="recipe must be 'auto'"):
        Experiment.from_dict(values | {"tasks": [values["tasks"][0] | {"recipe": "best"}]})
