"""The few-shot experiment runner: schema, sampling, aggregation arithmetic, resume and failures."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from promptlearn import api
from promptlearn.cli import app
from promptlearn.data.examples import load_task_data
from promptlearn.data.sampling import few_shot
from promptlearn.errors import PromptlearnError
from promptlearn.experiment import Experiment, run_experiment, write_report
from promptlearn.experiment.aggregate import ensemble_records, mean_std, summarize, summary_csv
from promptlearn.experiment.config import with_candidate
from promptlearn.experiment.report import summary_markdown
from promptlearn.experiment.runner import load_predictions, subset_rows
from promptlearn.run.config import DEFAULT_MAX_STEPS
from tests.helpers.fewshot import comparable, experiment_values

# --- schema and grid ---------------------------------------------------------------------------


def test_grid_has_zero_shot_per_pattern_and_trained_runs_per_k_pattern_seed(tiny_bert_dir, task_dir, tmp_path):
    experiment = Experiment.from_dict(experiment_values(tiny_bert_dir, task_dir, tmp_path / "out", shots=[2, 3]))
    ids = [spec.run_id for spec in experiment.runs()]
    assert ids[:2] == ["toy__zero-shot__p0", "toy__zero-shot__p1"]
    assert len(ids) == 2 + 2 * 2 * 2  # zero-shot per pattern + K x pattern x seed
    assert "toy__pet__p1__k3__s21" in ids
    pet = [s for s in experiment.runs() if not s.zero_shot]
    assert {s.config.max_steps for s in pet} == {3} and all(s.config.dev_split == "sampled" for s in pet)


def test_modes_without_label_words_train_one_pattern(tiny_bert_dir, task_dir, tmp_path):
    values = experiment_values(tiny_bert_dir, task_dir, tmp_path, modes=["head", "pet"], seeds=[13])
    ids = [spec.run_id for spec in Experiment.from_dict(values).runs()]
    assert ids == ["toy__head__p0__k2__s13", "toy__pet__p0__k2__s13", "toy__pet__p1__k2__s13"]


def test_train_patterns_first_and_search_candidates(tiny_bert_dir, task_dir, tmp_path):
    values = experiment_values(
        tiny_bert_dir,
        task_dir,
        tmp_path,
        train_patterns="first",
        search={"learning_rate": [1e-4, 1e-3], "max_steps": [2, 4]},
    )
    pet = [s for s in Experiment.from_dict(values).runs() if not s.zero_shot]
    assert [s.pattern_id for s in pet] == [0, 0]
    assert len(pet[0].candidates) == 4 and {"learning_rate": 1e-3, "max_steps": 2} in pet[0].candidates


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sheds": [1]}, "unknown key 'sheds'. Did you mean 'seeds'?"),
        ({"modes": ["pet", "petx"]}, "unknown mode 'petx'"),
        ({"shots": [0]}, "positive integer or 'all'"),
        ({"train": {"seed": 3}}, "set by the grid"),
        ({"train": {"max_step": 3}}, "Did you mean 'max_steps'?"),
        ({"train": {"max_steps": -1}}, "experiment: toy/zero-shot: max_steps must be positive"),
        ({"train": {"max_steps": 3, "epochs": 2}}, "experiment: train: give max_steps or epochs, not both"),
        ({"train": {"warmup_ratio": 2}}, "warmup_ratio must be in [0, 1)"),
        ({"search": {"lr": [1e-3]}}, "unknown key 'lr'"),
        ({"train_patterns": "some"}, "'all' or 'first'"),
        ({"mode_settings": {"zero-shot": {}}}, "not a trained mode"),
    ],
)
def test_schema_errors_name_the_key(tiny_bert_dir, task_dir, tmp_path, change, message):
    with pytest.raises(PromptlearnError, match=re.escape(message)):
        Experiment.from_dict(experiment_values(tiny_bert_dir, task_dir, tmp_path, **change))


# --- sampling ----------------------------------------------------------------------------------


def test_sampling_is_deterministic_per_seed_and_balanced(task_dir):
    data = load_task_data(str(task_dir))
    first, again, other = few_shot(data, 2, 13), few_shot(data, 2, 13), few_shot(data, 2, 21)
    assert first == again
    assert first != other
    train, dev = first
    assert sorted(ex.label for ex in train) == ["negative"] * 2 + ["positive"] * 2
    assert sorted(ex.label for ex in dev) == ["negative"] * 2 + ["positive"] * 2
    assert not set(train) & set(dev)


def test_test_subset_is_fixed_and_keeps_order(task_dir):
    examples = load_task_data(str(task_dir)).split("train")
    rows = subset_rows(len(examples), 5)
    assert rows == subset_rows(len(examples), 5) and len(rows) == 5
    assert rows == sorted(rows)
    assert subset_rows(len(examples), None) is None  # None: the whole split


# --- aggregation arithmetic -------------------------------------------------------------------


def record(run_id, mode, pattern, seed, accuracy, macro_f1, shots=16, status="ok", dev=0.5, share=0.5):
    return {
        "run_id": run_id, "task": "t", "mode": mode, "pattern_id": pattern, "shots": shots, "seed": seed,
        "status": status, "labels": ["a", "b"], "dev": {"accuracy": dev, "macro_f1": dev},
        "test": {"accuracy": accuracy, "macro_f1": macro_f1, "top_class_share": share, "majority_accuracy": 0.6},
        "trainable_parameters": 10, "wall_seconds": 2.0,
    }  # fmt: skip


def test_mean_std_is_population_std():
    mean, std = mean_std([0.8, 0.9, 1.0])
    assert mean == pytest.approx(0.9)
    assert std == pytest.approx(math.sqrt(((0.1**2) * 2) / 3))
    assert mean_std([0.7]) == (pytest.approx(0.7), 0.0)


def test_summarize_groups_per_pattern_pools_patterns_and_counts_failures():
    records = [
        record("r1", "pet", 0, 13, 0.8, 0.7),
        record("r2", "pet", 0, 21, 1.0, 0.9),
        record("r3", "pet", 1, 13, 0.6, 0.6, share=0.95),
        record("r4", "pet", 1, 21, 0.0, 0.0, status="failed"),
    ]
    rows = {row.pattern: row for row in summarize(records)}
    assert rows["0"].test["accuracy"] == pytest.approx((0.9, 0.1))
    assert rows["0"].test["macro_f1"][0] == pytest.approx(0.8) and rows["0"].runs == 2 and rows["0"].failed == 0
    assert rows["1"].runs == 1 and rows["1"].failed == 1 and rows["1"].collapsed
    pooled = rows["mean"]
    assert pooled.runs == 3 and pooled.score[0] == pytest.approx(0.8)
    assert pooled.score[1] == pytest.approx(np.std([0.8, 1.0, 0.6]))
    csv_lines = summary_csv(list(rows.values())).splitlines()
    assert csv_lines[0].startswith("task,mode,shots,pattern,runs,failed,test_accuracy,test_accuracy_std")
    assert csv_lines[1].startswith("t,pet,16,0,2,0,0.9,0.1,0.8,0.1,0.5,0.0")


def test_ensemble_averages_pattern_probabilities_per_seed():
    records = [
        record("p0", "zero-shot", 0, None, 0, 0, shots=None),
        record("p1", "zero-shot", 1, None, 0, 0, shots=None),
    ]
    gold = np.array([0, 1, 1])
    stored = {
        "p0": {"test": (np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]]), gold)},  # 2/3 right
        "p1": {"test": (np.array([[0.4, 0.6], [0.1, 0.9], [0.3, 0.7]]), gold)},  # 2/3 right
    }
    (ensemble,) = ensemble_records(records, stored.get)
    assert ensemble["pattern_id"] == "ensemble"
    assert ensemble["test"]["accuracy"] == pytest.approx(1.0)  # means: [.65,.35], [.35,.65], [.25,.75]
    assert ensemble["dev"] is None  # zero-shot runs have no dev predictions


def test_named_ensemble_averages_every_run_of_its_modes_per_seed_on_test_and_dev():
    records = [
        record("a13", "pet", 0, 13, 0, 0),
        record("b13", "pet", 1, 13, 0, 0),
        record("c13", "head", 0, 13, 0, 0),
        record("x13", "bitfit", 0, 13, 0, 0),  # not a member
        record("a21", "pet", 0, 21, 0, 0),
        record("f21", "head", 0, 21, 0, 0, status="failed"),  # failed runs are left out
    ]
    gold = dev_gold = np.array([0, 1])
    probs = {
        "a13": [[0.6, 0.4], [0.6, 0.4]],
        "b13": [[0.6, 0.4], [0.6, 0.4]],
        "c13": [[0.1, 0.9], [0.1, 0.9]],
        "x13": [[0.0, 1.0], [0.0, 1.0]],
        "a21": [[0.9, 0.1], [0.2, 0.8]],
    }
    stored = {k: {"test": (np.array(v), gold), "dev": (np.array(v)[::-1], dev_gold)} for k, v in probs.items()}
    named = [r for r in ensemble_records(records, stored.get, {"recipe": ["pet", "head"]}) if r["mode"] == "recipe"]
    by_seed = {r["seed"]: r for r in named}
    # seed 13: mean of a13, b13, c13 = [0.433, 0.567] on both examples -> class 1 twice: 1 of 2 right
    assert by_seed[13]["members"] == ["a13", "b13", "c13"] and by_seed[13]["test"]["accuracy"] == pytest.approx(0.5)
    assert by_seed[13]["dev"]["accuracy"] == pytest.approx(0.5)
    # seed 21: a21 alone (the head run failed), right on both test examples; its dev rows are reversed: wrong on both
    assert by_seed[21]["members"] == ["a21"] and by_seed[21]["test"]["accuracy"] == pytest.approx(1.0)
    assert by_seed[21]["dev"]["accuracy"] == pytest.approx(0.0)
    (row,) = [r for r in summarize(records + named) if r.mode == "recipe"]
    assert row.runs == 2 and row.score[0] == pytest.approx(0.75) and row.pattern == "ensemble"


def test_named_ensemble_aligns_runs_that_order_the_labels_differently():
    cloze = record("c", "pet", 0, 13, 0, 0) | {"labels": ["positive", "negative"]}
    head = record("h", "head", 0, 13, 0, 0) | {"labels": ["negative", "positive"]}  # the data's order
    stored = {  # both right on both examples, each in its own label order: averaged unaligned they would tie
        "c": {"test": (np.array([[0.7, 0.3], [0.4, 0.6]]), np.array([0, 1]))},
        "h": {"test": (np.array([[0.2, 0.8], [0.9, 0.1]]), np.array([1, 0]))},
    }
    (named,) = [
        r for r in ensemble_records([cloze, head], stored.get, {"both": ["pet", "head"]}) if r["mode"] == "both"
    ]
    assert named["test"]["accuracy"] == pytest.approx(1.0)
    with pytest.raises(PromptlearnError, match="different labels"):
        ensemble_records([cloze, head | {"labels": ["neg", "pos"]}], stored.get, {"both": ["pet", "head"]})


@pytest.mark.slow
def test_search_combine_mean_reports_the_mean_of_every_candidates_probabilities(tiny_bert_dir, task_dir, tmp_path):
    out = tmp_path / "out"
    values = experiment_values(tiny_bert_dir, task_dir, out, modes=["pet"], seeds=[13], search_combine="mean")
    values["tasks"][0]["patterns"] = values["tasks"][0]["patterns"][:1]
    values["search"] = {"learning_rate": [1e-3, 1e-2]}
    experiment = Experiment.from_dict(values)
    (record_,) = run_experiment(experiment)
    (spec,) = experiment.runs()
    data = load_task_data(str(task_dir))
    test = data.split("test")
    singles = [api.fit(with_candidate(spec.config, c, "t"), data)[0].predict_proba(test) for c in spec.candidates]
    stored = load_predictions(out, record_["run_id"])
    np.testing.assert_allclose(stored["test"][0], np.mean(singles, axis=0), rtol=1e-5, atol=1e-6)
    assert not np.allclose(singles[0], singles[1])  # the candidates differ, so the mean is not one of them
    assert record_["combined"] == "mean of 2 candidates" and len(record_["search"]) == 2
    with pytest.raises(PromptlearnError, match="search_combine must be 'best'"):
        Experiment.from_dict(values | {"search_combine": "vote"})


def test_ensembles_are_checked_and_unused_when_their_modes_are_left_out(tiny_bert_dir, task_dir, tmp_path):
    values = experiment_values(tiny_bert_dir, task_dir, tmp_path, ensembles={"both": ["pet", "head"]})
    assert Experiment.from_dict(values | {"modes": ["pet", "head"]}).ensembles == {"both": ["pet", "head"]}
    assert Experiment.from_dict(values | {"modes": ["pet"]}).ensembles == {}
    with pytest.raises(PromptlearnError, match="lists modes from"):
        Experiment.from_dict(values | {"ensembles": {"both": ["pet", "haed"]}})
    with pytest.raises(PromptlearnError, match="is a mode's name"):
        Experiment.from_dict(values | {"ensembles": {"pet": ["pet"]}})


def test_trained_runs_store_dev_predictions_that_match_their_dev_metrics(tiny_bert_dir, task_dir, tmp_path):
    values = experiment_values(tiny_bert_dir, task_dir, tmp_path / "out", modes=["pet"], seeds=[13])
    values["tasks"][0]["patterns"] = values["tasks"][0]["patterns"][:1]
    (record_,) = run_experiment(Experiment.from_dict(values))
    stored = load_predictions(tmp_path / "out", record_["run_id"])
    dev_probs, dev_gold = stored["dev"]
    assert len(dev_gold) == 4  # K = 2 per label
    assert float((dev_probs.argmax(1) == dev_gold).mean()) == pytest.approx(record_["dev"]["accuracy"])


# --- running, resuming, failures --------------------------------------------------------------


@pytest.mark.slow
def test_interrupted_experiment_resumes_to_the_same_results(tiny_bert_dir, task_dir, tmp_path, monkeypatch):
    reference = run_experiment(Experiment.from_dict(experiment_values(tiny_bert_dir, task_dir, tmp_path / "ref")))
    assert len(reference) == 6 and all(r["status"] == "ok" for r in reference)

    experiment = Experiment.from_dict(experiment_values(tiny_bert_dir, task_dir, tmp_path / "out"))
    real_fit, calls = api.fit, []

    def fit_then_interrupt(config, data, output=None):
        calls.append(config.seed)
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the third trained run
        return real_fit(config, data, output)

    monkeypatch.setattr(api, "fit", fit_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(experiment)
    runs = tmp_path / "out" / "runs"
    finished = sorted(p.name for p in runs.iterdir())
    assert finished == ["toy__pet__p0__k2__s13", "toy__pet__p0__k2__s21", "toy__zero-shot__p0", "toy__zero-shot__p1"]
    assert len((tmp_path / "out" / "results.jsonl").read_text().splitlines()) == 4

    calls.clear()
    resumed = run_experiment(experiment)
    assert len(calls) == 2  # only the two unfinished pet runs trained again
    assert comparable(resumed) == comparable(reference)
    assert not [p for p in (tmp_path / "out").rglob("*") if p.name.endswith((".partial", ".tmp"))]


@pytest.mark.slow
def test_failing_run_is_recorded_and_does_not_stop_the_grid(tiny_bert_dir, task_dir, tmp_path, monkeypatch):
    experiment = Experiment.from_dict(experiment_values(tiny_bert_dir, task_dir, tmp_path / "out"))
    real_fit = api.fit

    def broken_for_seed_21(config, data, output=None):
        if config.seed == 21:
            raise RuntimeError("out of memory (simulated)")
        return real_fit(config, data, output)

    monkeypatch.setattr(api, "fit", broken_for_seed_21)
    records = run_experiment(experiment)
    failed = [r for r in records if r["status"] == "failed"]
    assert [r["run_id"] for r in failed] == ["toy__pet__p0__k2__s21", "toy__pet__p1__k2__s21"]
    assert failed[0]["error"] == "RuntimeError: out of memory (simulated)"
    assert sum(r["status"] == "ok" for r in records) == 4
    lines = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert [line["status"] for line in lines].count("failed") == 2 and "traceback" not in lines[0]
    stored = json.loads((tmp_path / "out" / "runs" / "toy__pet__p0__k2__s21" / "record.json").read_text())
    assert "RuntimeError" in stored["traceback"]

    write_report(experiment, records, "test")
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "## Failed runs" in summary and "toy__pet__p1__k2__s21 | RuntimeError: out of memory" in summary

    monkeypatch.setattr(api, "fit", real_fit)
    retried = run_experiment(experiment)
    assert all(r["status"] == "ok" for r in retried)


@pytest.mark.slow
def test_changed_settings_rerun_a_finished_run(tiny_bert_dir, task_dir, tmp_path):
    values = experiment_values(tiny_bert_dir, task_dir, tmp_path / "out", modes=["pet"], seeds=[13], shots=[2])
    first = run_experiment(Experiment.from_dict(values))
    values["train"] = values["train"] | {"max_steps": 2}
    second = run_experiment(Experiment.from_dict(values))
    assert [r["config"]["max_steps"] for r in first] == [3, 3] and [r["config"]["max_steps"] for r in second] == [2, 2]


@pytest.mark.slow
def test_cli_runs_a_yaml_experiment_and_writes_the_report(tiny_bert_dir, task_dir, tmp_path):
    config = tmp_path / "exp.yaml"
    values = experiment_values(tiny_bert_dir, task_dir, tmp_path / "out", seeds=[13], report=str(tmp_path / "report"))
    values["search"] = {"learning_rate": [1e-4, 1e-3]}
    config.write_text(yaml.safe_dump(values))
    result = CliRunner().invoke(app, ["fewshot", "--config", str(config), "--shots", "2,3"])
    assert result.exit_code == 0, result.output
    report = tmp_path / "report"
    assert (report / "plots" / "toy.png").read_bytes()[:4] == b"\x89PNG"
    summary = (report / "summary.md").read_text()
    assert f"promptlearn fewshot --config {config} --shots 2,3" in summary
    assert "| zero-shot | 0 | ensemble |" in summary and "| pet | 3 | mean |" in summary
    page = (report / "report.html").read_text()
    assert page == (tmp_path / "out" / "report.html").read_text() and "<h3>Chosen on dev</h3>" in page
    header = (report / "summary.csv").read_text().splitlines()[0]
    assert "test_macro_f1" in header and "top_class_share" in header
    line = json.loads((tmp_path / "out" / "results.jsonl").read_text().splitlines()[-1])
    assert len(line["search"]) == 2 and line["trainable_parameters"] > 0 and "wall_seconds" in line

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(values | {"modez": ["pet"]}))
    result = CliRunner().invoke(app, ["fewshot", "--config", str(bad)])
    assert result.exit_code == 2 and "unknown key 'modez'. Did you mean 'modes'?" in result.output


# --- what a new user ran into (issues 9.17, 16.B) ---------------------------------------------


def write_config(tmp_path, values) -> str:
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump(values))
    return str(config)


def test_cli_exits_1_and_lists_each_failed_run_after_running_the_others(tiny_bert_dir, task_dir, tmp_path, monkeypatch):
    def broken(config, data, output=None):
        raise RuntimeError(f"simulated failure of seed {config.seed}")

    monkeypatch.setattr(api, "fit", broken)
    values = experiment_values(tiny_bert_dir, task_dir, tmp_path / "out", modes=["pet"], train_patterns="first")
    result = CliRunner().invoke(app, ["fewshot", "--config", write_config(tmp_path, values)])
    assert result.exit_code == 1, result.output
    assert "Error: 2 of 2 runs failed:" in result.output
    assert "toy__pet__p0__k2__s13: RuntimeError: simulated failure of seed 13" in result.output
    assert "toy__pet__p0__k2__s21: RuntimeError: simulated failure of seed 21" in result.output
    assert (tmp_path / "out" / "summary.md").is_file()  # the report is still written


def test_prompts_are_checked_before_the_first_run_naming_every_bad_word(tiny_bert_dir, task_dir, tmp_path, monkeypatch):
    values = experiment_values(tiny_bert_dir, task_dir, tmp_path / "out")
    typo = values["tasks"][0] | {"name": "typo", "verbalizer": {"positive": ["great"], "negatve": ["terrible"]}}
    spelled = {"positive": ["unbelievable"], "negative": ["superb", "xyzzy"]}
    words = values["tasks"][0] | {"name": "words", "verbalizer": spelled}
    values["tasks"] = [typo, words]
    monkeypatch.setattr(api, "fit", lambda *args: pytest.fail("a run started"))
    result = CliRunner().invoke(app, ["fewshot", "--config", write_config(tmp_path, values)])
    assert result.exit_code == 2, result.output
    assert "nothing was run" in result.output
    assert "task typo: The verbalizer's labels" in result.output and "not in the dataset: ['negatve']" in result.output
    assert "unbelievable" not in result.output, "a multi-token word is fine"
    assert "'xyzzy' (label 'negative') is unknown to this tokenizer" in result.output
    assert "'superb' (label 'negative') is unknown to this tokenizer" in result.output
    assert not (tmp_path / "out" / "runs").exists()


def test_one_default_length_and_epochs_in_train(tiny_bert_dir, task_dir, tmp_path):
    values = experiment_values(tiny_bert_dir, task_dir, tmp_path, train={"eval_every": 2})
    assert {s.config.max_steps for s in Experiment.from_dict(values).runs()} == {DEFAULT_MAX_STEPS}
    values["train"] = {"epochs": 30}
    values["mode_settings"] = {"finetune": {"max_steps": 4}}  # a more specific length replaces train's epochs
    values["modes"] = ["pet", "finetune"]
    runs = Experiment.from_dict(values).runs()
    assert {(s.mode, s.config.epochs, s.config.max_steps) for s in runs} == {("pet", 30, None), ("finetune", None, 4)}
    values["search"] = {"max_steps": [2, 3]}
    pet = Experiment.from_dict(values).runs()[0]
    assert with_candidate(pet.config, pet.candidates[0], "x").max_steps == 2


@pytest.mark.slow
def test_cli_max_steps_replaces_the_files_epochs(tiny_bert_dir, task_dir, tmp_path):
    values = experiment_values(tiny_bert_dir, task_dir, tmp_path / "out", modes=["pet"], seeds=[13])
    values["train"] = {"epochs": 30, "eval_every": 2, "batch_size": 2}
    values["tasks"][0]["patterns"] = values["tasks"][0]["patterns"][:1]
    result = CliRunner().invoke(app, ["fewshot", "--config", write_config(tmp_path, values), "--max-steps", "2"])
    assert result.exit_code == 0, result.output
    (line,) = (tmp_path / "out" / "results.jsonl").read_text().splitlines()
    assert json.loads(line)["config"]["max_steps"] == 2 and json.loads(line)["config"]["epochs"] is None


def test_modes_flag_runs_only_the_named_modes_of_a_file_with_other_modes_settings(tiny_bert_dir, task_dir, tmp_path):
    values = experiment_values(tiny_bert_dir, task_dir, tmp_path, modes=["pet"])
    values["mode_settings"] = {"soft_prompt": {"learning_rate": 0.01}, "pet": {"learning_rate": 1e-4}}
    runs = Experiment.from_dict(values).runs()
    assert {s.mode for s in runs} == {"pet"} and {s.config.learning_rate for s in runs} == {1e-4}
    values["mode_settings"] = {"soft_promt": {}}
    with pytest.raises(PromptlearnError, match="'soft_promt' is not a trained mode"):
        Experiment.from_dict(values)


@pytest.mark.slow
def test_report_only_rewrites_results_from_every_run_on_disk(tiny_bert_dir, task_dir, tmp_path):
    values = experiment_values(tiny_bert_dir, task_dir, tmp_path / "out", modes=["pet"], train_patterns="first")
    config = write_config(tmp_path, values)
    for seed in ("13", "21"):  # two partial runs of the grid, as a user might do
        assert CliRunner().invoke(app, ["fewshot", "--config", config, "--seeds", seed]).exit_code == 0
    (tmp_path / "out" / "report.html").unlink()
    result = CliRunner().invoke(app, ["fewshot", "--config", config, "--report-only"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert [line["seed"] for line in lines] == [13, 21]
    assert "| pet | 2 | 0 |" in (tmp_path / "out" / "summary.md").read_text()
    page = (tmp_path / "out" / "report.html").read_text()
    assert '<td class="text">pet</td><td class="text">2</td><td class="text">0</td>' in page


def test_summary_states_each_modes_search_once(tiny_bert_dir, task_dir, tmp_path):
    values = experiment_values(tiny_bert_dir, task_dir, tmp_path, modes=["pet", "finetune"])
    values["mode_settings"] = {"pet": {"batch_size": 4, "search": {"learning_rate": [1e-4, 1e-3]}}}
    summary = summary_markdown(Experiment.from_dict(values), [], [], "test")
    assert "- `pet`: batch_size=4\n" in summary
    assert "hyperparameter search (best dev accuracy, then dev macro-F1): `pet`: learning_rate=[0.0001, 0.001]; " \
           "`finetune`: none" in summary  # fmt: skip
    assert "none (each mode's settings as given)" not in summary


def test_summary_lists_the_candidate_each_searched_run_kept_per_seed(tiny_bert_dir, task_dir, tmp_path):
    values = experiment_values(tiny_bert_dir, task_dir, tmp_path, modes=["pet"])
    values["mode_settings"] = {"pet": {"search": {"learning_rate": [1e-4, 1e-3]}}}

    def searched(seed, scores):  # (accuracy, macro-F1) per candidate; ties go to the first candidate
        trials = [
            {"learning_rate": lr, "dev": {"accuracy": a, "macro_f1": f}}
            for lr, (a, f) in zip([1e-4, 1e-3], scores, strict=True)
        ]
        return record(f"s{seed}", "pet", 0, seed, 0.5, 0.5) | {"task": "toy", "search": trials}

    records = [
        searched(13, [(0.5, 0.4), (0.5, 0.5)]),
        searched(21, [(0.75, 0.7), (0.5, 0.5)]),
        searched(42, [(0.5, 0.5)] * 2),
    ]
    summary = summary_markdown(Experiment.from_dict(values), summarize(records), records, "test")
    assert "| mode | K | pattern | seed 13 | seed 21 | seed 42 |" in summary
    assert "| pet | 16 | 0 | learning_rate=0.001 | learning_rate=0.0001 | learning_rate=0.0001 |" in summary


def test_task_without_preset_says_how_to_give_its_prompt(tiny_bert_dir, task_dir, tmp_path):
    values = experiment_values(tiny_bert_dir, task_dir, tmp_path)
    values["tasks"] = [{"name": "trec", "data": str(task_dir)}]
    with pytest.raises(PromptlearnError) as err:
        Experiment.from_dict(values)
    assert "task 'trec' has no preset" in str(err.value) and "give its patterns and verbalizer" in str(err.value)
    assert '    patterns: ["{text} It was [MASK] ."]' in str(err.value)
    assert "    verbalizer: {positive: [great], negative: [terrible]}" in str(err.value)


def test_show_pattern_renders_an_example_of_the_data(tiny_bert_dir, task_dir):
    args = ["show-pattern", "--model", str(tiny_bert_dir), "--data", str(task_dir)]
    shown = CliRunner().invoke(app, [*args, "--split", "test", "--index", "4", "--pattern", "{text} It was [MASK] .",
                                     "--verbalizer", "positive=great,negative=terrible"])  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert "example:  " in shown.output and "[test] #4, label 'negative'" in shown.output
    assert "1:it  2:was  3:boring" in shown.output  # test example 4 is "it was boring"
    mismatch = CliRunner().invoke(app, [*args, "--pattern", "[MASK]", "--verbalizer", "good=great,bad=terrible"])
    assert mismatch.exit_code == 2 and "do not match the dataset's labels" in mismatch.output
    missing = CliRunner().invoke(app, args)
    assert missing.exit_code == 2 and "--task with a preset's name (" in missing.output and "sst2" in missing.output
    assert "--data only supplies the example" in missing.output


def test_run_folder_config_reruns_from_another_directory(tiny_bert_dir, task_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(task_dir.parent)
    values = experiment_values(tiny_bert_dir, task_dir.name, tmp_path / "out", modes=["pet"], seeds=[13])
    run_experiment(Experiment.from_dict(values))
    saved = json.loads(next((tmp_path / "out" / "runs").glob("*/config.json")).read_text())
    assert saved["data"] == str(task_dir.resolve()) and saved["as_given"]["data"] == task_dir.name
