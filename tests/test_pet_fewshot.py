"""PET's pseudo-modes in `fewshot`: one cell per task x K x seed over every pattern, resumable."""

from __future__ import annotations

import fcntl
import json
import os

import pytest

from promptlearn.errors import PromptlearnError
from promptlearn.experiment import Experiment, run_experiment, runner
from tests import pet_helpers

pet_task = pet_helpers.pet_task  # the fixture


def _experiment(model, data, output, modes) -> Experiment:
    return Experiment.from_dict({
        "model": str(model), "output": str(output), "modes": modes, "shots": [2], "seeds": [13],
        "tasks": [{"name": "tiny", "data": str(data), "patterns": ["{text} it was [MASK] .", "[MASK] : {text}"],
                   "verbalizer": {"positive": ["great"], "negative": ["terrible"]}}],
        "train": {"max_steps": 2, "eval_every": 1, "batch_size": 4, "precision": "fp32"},
    })  # fmt: skip


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
