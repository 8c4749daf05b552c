"""The transfer study of `promptlearn fewshot` (``transfer:``): which runs the grid gains, that the sources keep
their weights and the targets start from them, and the gain table checked against a hand computation."""

from __future__ import annotations

import re

import pytest

from promptlearn.errors import PromptlearnError
from promptlearn.experiment import Experiment, run_experiment, write_report
from promptlearn.experiment.transfer import gain_lines
from tests.helpers.fewshot import experiment_values


def _values(model, data, output, **changes) -> dict:
    (task,) = experiment_values(model, data, output)["tasks"]
    tasks = [task | {"patterns": task["patterns"][:1]}, task | {"name": "toy2", "patterns": task["patterns"][:1]}]
    values = {"tasks": tasks, "modes": ["pet", "soft_prompt"], "transfer": {"sources": ["toy"], "targets": ["toy2"]}}
    values["mode_settings"] = {"soft_prompt": {"mode_options": {"prompt_length": 2}}}
    return experiment_values(model, data, output, **values) | changes


def test_each_target_gets_one_run_per_seed_started_from_its_source_run(tiny_bert_dir, task_dir, tmp_path):
    experiment = Experiment.from_dict(_values(tiny_bert_dir, task_dir, tmp_path / "out"))
    specs = {spec.run_id: spec for spec in experiment.runs()}
    transfers = [spec for spec in specs.values() if spec.transfer_from is not None]
    assert sorted(s.run_id for s in transfers) == [
        "toy2__soft_prompt__p0__k2__s13__from-toy",
        "toy2__soft_prompt__p0__k2__s21__from-toy",
    ]  # pet's init takes no run: it gets none
    for spec in transfers:
        source = specs[spec.transfer_from.run_id]
        assert source.task == "toy" and source.seed == spec.seed and source.keep_weights
        assert spec.config.mode_options["init"] == f"run:{(tmp_path / 'out' / 'runs' / source.run_id).resolve()}"
        assert spec.config.replace(mode_options={}) == specs[spec.run_id.removesuffix("__from-toy")].config.replace(
            mode_options={}
        )
    assert not any(s.keep_weights for s in specs.values() if s.task == "toy2")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"modes": ["pet"]}, "transfer needs a mode whose init takes run:PATH"),
        ({"transfer": {"sources": ["nope"]}}, "transfer.sources must list tasks of this grid"),
        ({"transfer": {"sources": ["toy"], "targets": ["toy"]}}, "no pair of two different tasks"),
        ({"transfer": {"from": ["toy"]}}, "transfer is a mapping"),
    ],
)
def test_a_bad_transfer_is_refused(tiny_bert_dir, task_dir, tmp_path, change, message):
    with pytest.raises(PromptlearnError, match=re.escape(message)):
        Experiment.from_dict(_values(tiny_bert_dir, task_dir, tmp_path / "out", **change))


def _record(task, mode, seed, accuracy, source=None) -> dict:
    record = {"status": "ok", "task": task, "mode": mode, "shots": 16, "seed": seed, "pattern_id": 0}
    record |= {"test": {"accuracy": accuracy}}
    if source:
        record |= {"mode": f"{mode} from {source}", "transfer": {"mode": mode, "source": source}}
    return record


def test_the_gain_is_the_mean_of_the_paired_seed_differences():
    records = [
        _record("cr", "soft_prompt", 13, 0.50),
        _record("cr", "soft_prompt", 21, 0.60),
        _record("cr", "soft_prompt", 13, 0.70, source="sst2"),
        _record("cr", "soft_prompt", 21, 0.50, source="sst2"),
        _record("cr", "soft_prompt", 42, 0.90, source="sst2"),  # no fresh run of seed 42: left out
        _record("cr", "lora", 13, 0.10),  # another mode: never paired with soft_prompt
    ]
    (row,) = [line for line in gain_lines(records) if line.startswith("| cr")]
    # with: (0.70 + 0.50) / 2 = 60.0; without: (0.50 + 0.60) / 2 = 55.0; gains +0.20, -0.10: mean +5.0, std 15.0
    assert row == "| cr | soft_prompt | 16 | sst2 | 60.0 | 55.0 | +5.0 (15.0) | 2 |"
    assert gain_lines(records[:2]) == []


@pytest.mark.slow
def test_the_study_runs_and_reports_target_accuracy_with_and_without_the_source(tiny_bert_dir, task_dir, tmp_path):
    from safetensors.torch import load_file

    values = _values(tiny_bert_dir, task_dir, tmp_path / "out", modes=["soft_prompt"], seeds=[13])
    experiment = Experiment.from_dict(values)
    records = run_experiment(experiment)
    write_report(experiment, records, "test")
    records = {r["run_id"]: r for r in records}
    assert all(r["status"] == "ok" for r in records.values()), records
    source = tmp_path / "out" / "runs" / "toy__soft_prompt__p0__k2__s13"
    assert set(load_file(source / "weights.safetensors")) == {"mode.prompt"}
    assert not (tmp_path / "out" / "runs" / "toy2__soft_prompt__p0__k2__s13" / "weights.safetensors").exists()
    with_source = records["toy2__soft_prompt__p0__k2__s13__from-toy"]
    without = records["toy2__soft_prompt__p0__k2__s13"]
    assert with_source["transfer"]["source_run"] == source.name
    gain = 100 * (with_source["test"]["accuracy"] - without["test"]["accuracy"])
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "## Transfer" in summary
    assert f"| toy2 | soft_prompt | 2 | toy | {100 * with_source['test']['accuracy']:.1f} |" in summary
    assert f"| {gain:+.1f} (0.0) | 1 |" in summary
