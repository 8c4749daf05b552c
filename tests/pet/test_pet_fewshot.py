"""PET's pseudo-modes in `fewshot`: one cell per task x K x seed over every pattern, resumable."""

from __future__ import annotations

import fcntl
import json
import os

import numpy as np
import pytest

from promptlearn import api
from promptlearn.errors import PromptlearnError
from promptlearn.experiment import Experiment, run_experiment, runner
from promptlearn.pet.ensemble import log_probs, merge, soften
from promptlearn.pet.members import Labels
from promptlearn.pet.pool import read_split
from tests.helpers import pet as pet_helpers

pet_task = pet_helpers.pet_task  # the fixture


def _experiment(model, data, output, modes, **train) -> Experiment:
    """``train``: run settings on top of the tiny ones (2 steps, batch 4)."""
    return Experiment.from_dict({
        "model": str(model), "output": str(output), "modes": modes, "shots": [2], "seeds": [13],
        "tasks": [{"name": "tiny", "data": str(data), "patterns": ["{text} it was [MASK] .", "[MASK] : {text}"],
                   "verbalizer": {"positive": ["great"], "negative": ["terrible"]}}],
        "train": {"max_steps": 2, "eval_every": 1, "batch_size": 4, "precision": "fp32", **train},
    })  # fmt: skip


@pytest.mark.slow
def test_pet_cells_report_the_pipelines_ensemble_and_final_model(tiny_bert_dir, pet_task, tmp_path):
    experiment = _experiment(tiny_bert_dir, pet_task, tmp_path / "exp", ["pet-ensemble", "pet-distill"])
    specs = experiment.runs()
    assert [s.run_id for s in specs] == ["tiny__pet-ensemble__p0__k2__s13", "tiny__pet-distill__p0__k2__s13"]
    assert {s.config.mode for s in specs} == {"pet"}
    record, distilled = run_experiment(experiment)
    assert record["status"] == distilled["status"] == "ok", (record.get("error"), distilled.get("error"))
    pipeline = tmp_path / "exp" / "pet" / "tiny__g0__k2__s13"
    summary = json.loads((pipeline / "summary.json").read_text())
    ensemble = next(row for row in summary["rows"] if row["component"].startswith("g0/ensemble"))
    assert record["test"]["accuracy"] == ensemble["test"]["accuracy"]
    final = json.loads((pipeline / "final" / "metrics.json").read_text())  # both cells share one pipeline
    assert distilled["test"]["accuracy"] == pytest.approx(final["test"]["accuracy"])
    assert len(list((pipeline / "g0").glob("*.labels.npz"))) == 2 * 3  # 2 patterns x PET's 3 repetitions


def test_an_unknown_pseudo_mode_is_refused(tiny_bert_dir, pet_task, tmp_path):
    with pytest.raises(PromptlearnError, match="pet-ensemble, pet-distill, ipet"):
        _experiment(tiny_bert_dir, pet_task, tmp_path / "exp", ["pet-ensembel"])


def test_a_pet_cell_holds_its_pipeline_folder_while_it_builds_it(tiny_bert_dir, pet_task, tmp_path, monkeypatch):
    """pet-ensemble and pet-distill share a pipeline: under --workers, a second process must wait, not build it too."""
    experiment = _experiment(tiny_bert_dir, pet_task, tmp_path / "exp", ["pet-ensemble"])
    lock = tmp_path / "exp" / "pet" / ".tiny__g0__k2__s13.lock"
    held = []

    def try_lock(*args):
        fd = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held.append(False)
        except BlockingIOError:
            held.append(True)
        finally:
            os.close(fd)
        raise RuntimeError("stop here")

    monkeypatch.setattr(runner, "run_cell", try_lock)
    (record,) = run_experiment(experiment, retry_failed=False)
    assert record["status"] == "failed" and held == [True]


def _cell_probabilities(output, run_id: str) -> np.ndarray:
    with np.load(output / "runs" / run_id / runner.PREDICTIONS) as stored:
        return stored["probabilities"]


def _ensemble_by_hand(pipeline, test) -> np.ndarray:
    """Generation 0's wmean ensemble from each member's own predict_proba (the stored weights)."""
    members = sorted(p.name.removesuffix(".labels.npz") for p in (pipeline / "g0").glob("*.labels.npz"))
    logits = [log_probs(api.load_run(pipeline / "g0" / m).predict_proba(test)) for m in members]
    weights = [Labels.load(pipeline / "g0" / f"{m}.labels.npz").prior_accuracy for m in members]
    return soften(merge(logits, weights))


@pytest.mark.slow
def test_pet_cells_report_the_calibrated_runs_predictions(tiny_bert_dir, pet_task, tmp_path):
    output = tmp_path / "exp"
    experiment = _experiment(tiny_bert_dir, pet_task, output, ["pet-ensemble", "pet-distill"], calibrate="content-free")
    records = run_experiment(experiment)
    assert [r["status"] for r in records] == ["ok", "ok"], [r.get("error") for r in records]
    pipeline = output / "pet" / "tiny__g0__k2__s13"
    test = read_split(pipeline / "data" / "base", "test")
    ensemble = _cell_probabilities(output, "tiny__pet-ensemble__p0__k2__s13")
    np.testing.assert_allclose(ensemble, _ensemble_by_hand(pipeline, test), atol=1e-5)
    final = api.load_run(pipeline / "final")
    assert final.calibration is not None
    distilled = _cell_probabilities(output, "tiny__pet-distill__p0__k2__s13")
    np.testing.assert_allclose(distilled, final.predict_proba(test), atol=1e-6)
    assert not np.allclose(distilled, final.trainer.predict_proba(final.pvp.encode(test)), atol=1e-3)


@pytest.mark.slow
def test_pet_ensemble_with_demonstrations_labels_with_each_members_own(tiny_bert_dir, pet_task, tmp_path):
    """pet-ensemble needs no distilled classifier (which refuses demonstrations); each member's labels
    average over its own demonstration draws."""
    output = tmp_path / "exp"
    demonstrations = {"demonstrations": True, "demonstration_sets": 2, "demonstration_length": 16, "max_length": 32}
    (record,) = run_experiment(_experiment(tiny_bert_dir, pet_task, output, ["pet-ensemble"], **demonstrations))
    assert record["status"] == "ok", record.get("error")
    pipeline = output / "pet" / "tiny__g0__k2__s13"
    assert not (pipeline / "final").exists()
    test = read_split(pipeline / "data" / "base", "test")
    np.testing.assert_allclose(
        _cell_probabilities(output, "tiny__pet-ensemble__p0__k2__s13"), _ensemble_by_hand(pipeline, test), atol=1e-5
    )
