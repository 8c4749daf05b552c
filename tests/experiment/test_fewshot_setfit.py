"""``fewshot`` grids take the setfit mode like any other: one run per K and seed (it reads no pattern), on the
few-shot split the grid sampled, with dev and test metrics recorded."""

from __future__ import annotations

import pytest

from promptlearn.experiment import Experiment, run_experiment
from tests.helpers.fewshot import experiment_values


@pytest.mark.slow
def test_a_grid_trains_setfit_once_per_seed_and_reports_it(tiny_bert_dir, task_dir, tmp_path):
    values = experiment_values(tiny_bert_dir, task_dir, tmp_path / "out", modes=["setfit"], seeds=[13])
    experiment = Experiment.from_dict(values)
    assert [spec.run_id for spec in experiment.runs()] == ["toy__setfit__p0__k2__s13"]
    (record,) = run_experiment(experiment)
    assert record["status"] == "ok", record
    assert 0 <= record["test"]["accuracy"] <= 1 and record["dev"]["accuracy"] is not None
