"""`search: {backend: optuna, ...}`: the space's checks, pruning, a study shared by two processes, a killed
process's study resumed, and a grid whose runs are Optuna studies on the real trainer."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import statistics
import sys
import time

import pytest

optuna = pytest.importorskip("optuna")  # the dev extra installs it (pyproject.toml)

from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution  # noqa: E402
from optuna.trial import TrialState  # noqa: E402

from promptlearn.errors import PromptlearnError  # noqa: E402
from promptlearn.experiment import Experiment, run_experiment  # noqa: E402
from promptlearn.experiment.config import study_candidate  # noqa: E402
from promptlearn.experiment.optuna_search import JOURNAL, STUDY_NAME, OptunaSearch, run_study  # noqa: E402
from promptlearn.experiment.report import write_report  # noqa: E402
from tests.helpers.fewshot import experiment_values  # noqa: E402
from tests.helpers.optuna_trials import accuracy, objective, search, study_worker  # noqa: E402

FULL = {
    "backend": "optuna",
    "trials": 7,
    "startup_trials": 2,
    "space": {
        "learning_rate": {"log_uniform": [1.0e-5, 1.0e-3]},
        "max_steps": {"int": [50, 200]},
        "warmup_ratio": {"uniform": [0.0, 0.2]},
        "prompt_length": {"categorical": [2, 4]},
    },
}


def test_a_search_parses_every_kind_of_dimension():
    parsed = OptunaSearch.parse(FULL, "search")
    assert (parsed.trials, parsed.startup_trials) == (7, 2)
    assert parsed.names() == ["learning_rate", "max_steps", "warmup_ratio", "prompt_length"]
    assert parsed.distributions() == {
        "learning_rate": FloatDistribution(1.0e-5, 1.0e-3, log=True),
        "max_steps": IntDistribution(50, 200),
        "warmup_ratio": FloatDistribution(0.0, 0.2),
        "prompt_length": CategoricalDistribution([2, 4]),
    }
    # every bound and category is checked before anything runs
    assert {"learning_rate": 1.0e-3, "max_steps": 50, "warmup_ratio": 0.0, "prompt_length": 2} in parsed.edges()
    assert {"learning_rate": 1.0e-5, "max_steps": 50, "warmup_ratio": 0.0, "prompt_length": 4} in parsed.edges()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"trials": 0}, "search.trials must be a positive integer (trials per run), got 0"),
        ({"trials": True}, "search.trials must be a positive integer (trials per run), got True"),
        ({"startup_trials": -1}, "search.startup_trials must be an integer >= 0"),
        ({"backend": "ray"}, "search.backend must be 'optuna' (or leave backend out for a grid), got 'ray'"),
        ({"sampler": "tpe"}, "search: unknown key 'sampler'; an Optuna search has backend, trials, space"),
        ({"space": {}}, "search.space maps each hyperparameter to its distribution"),
        ({"space": {"learning_rate": {"normal": [0, 1]}}}, "search.space.learning_rate: unknown distribution"),
        ({"space": {"learning_rate": [1e-5, 1e-3]}}, "search.space.learning_rate: unknown distribution"),
        ({"space": {"learning_rate": {"log_uniform": [0, 1]}}}, "search.space.learning_rate.log_uniform must be"),
        ({"space": {"max_steps": {"int": [200, 50]}}}, "search.space.max_steps.int must be [low, high], integers"),
        ({"space": {"max_steps": {"int": [1.5, 50]}}}, "search.space.max_steps.int must be"),
        ({"space": {"warmup_ratio": {"uniform": [0.1]}}}, "search.space.warmup_ratio.uniform must be"),
        ({"space": {"prompt_length": {"categorical": []}}}, "search.space.prompt_length.categorical must be"),
    ],
)
def test_a_bad_search_names_its_key(change, message):
    with pytest.raises(PromptlearnError) as caught:
        OptunaSearch.parse(FULL | change, "search")
    assert message in str(caught.value)


def test_a_search_without_optuna_installed_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # `import optuna` raises ImportError
    with pytest.raises(PromptlearnError, match=r"search.backend: optuna needs the optuna package: pip install "):
        OptunaSearch.parse(FULL, "search")


def _experiment(tmp_path, search, **changes):
    values = experiment_values(tmp_path / "model", tmp_path / "data", tmp_path / "out", **changes)
    return Experiment.from_dict(values | {"search": search})


def test_the_space_names_a_modes_options_and_runs_get_the_study(tmp_path):
    experiment = _experiment(tmp_path, FULL, modes=["zero-shot", "soft_prompt"])
    trained = [spec for spec in experiment.runs() if spec.mode == "soft_prompt"]
    assert trained and all(spec.study == OptunaSearch.parse(FULL, "search") for spec in trained)
    assert all(spec.study is None for spec in experiment.runs() if spec.zero_shot)
    # a mode's option goes into mode_options, a run field stays a field
    config = trained[0].config
    assert study_candidate(config, {"prompt_length": 4, "learning_rate": 1e-4}) == {
        "learning_rate": 1e-4,
        "mode_options": config.mode_options | {"prompt_length": 4},
    }


@pytest.mark.parametrize(
    ("space", "message"),
    [
        # pet has no prompt_length: the key is named with the mode's searchable names
        ({"prompt_length": {"categorical": [2, 4]}}, "toy/pet: search.space.prompt_length: not a hyperparameter "
         "of mode pet; search learning_rate, batch_size, max_steps, weight_decay, warmup_ratio, train_layers"),
        # an edge the run would refuse fails before anything runs
        ({"batch_size": {"int": [0, 8]}}, "toy/pet: batch_size must be positive, got 0"),
    ],
)  # fmt: skip
def test_a_space_the_mode_cannot_take_fails_before_any_run(tmp_path, space, message):
    with pytest.raises(PromptlearnError) as caught:
        _experiment(tmp_path, {"backend": "optuna", "trials": 2, "space": space})
    assert message in str(caught.value)


def _finished(trials) -> list:
    return [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]


def _log(path) -> list[tuple[str, str, str]]:
    return [tuple(line.split()) for line in path.read_text().splitlines()]


def test_a_trial_below_the_median_at_an_evaluation_is_pruned_and_the_same_seed_draws_the_same_trials(tmp_path):
    runs = []
    for name in ("a", "b"):
        trials = run_study(tmp_path / name, search(8), 13, objective(tmp_path / f"{name}.log", 0.0))
        runs.append(sorted(trials, key=lambda t: t.number))
    first, second = runs
    assert [t.params for t in first] == [t.params for t in second]  # seeded TPE: same seed, same trials
    assert len(_finished(first)) == 8
    pruned = [t for t in first if t.state == TrialState.PRUNED]
    assert pruned, "the synthetic objective is built to be pruned: high learning rates score below the median"
    for trial in pruned:
        step, value = min(trial.intermediate_values.items())  # pruned at its first evaluation
        earlier = [t.intermediate_values[step] for t in first if t.number < trial.number and t.state.name == "COMPLETE"]
        assert len(earlier) >= 2 and value < statistics.median(earlier)  # startup_trials=2 completed first
        assert trial.intermediate_values == {1: accuracy(trial.params["learning_rate"])}
    # a pruned trial is recorded as pruned (by the objective too), not failed
    assert {state for _, _, state in _log(tmp_path / "a.log")} == {"complete", "pruned"}
    assert not [t for t in first if t.state == TrialState.FAIL]


@pytest.mark.slow  # starts two processes
def test_two_processes_share_one_study_on_one_journal_file(tmp_path):
    folder, log = tmp_path / "study", tmp_path / "trials.log"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=study_worker, args=(folder, 6, log, 0.3, 2)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=240)
        assert worker.exitcode == 0
    study = optuna.load_study(study_name=STUDY_NAME, storage=_storage(folder))
    assert len(_finished(study.get_trials())) == 6 and len(study.get_trials()) == 6
    lines = _log(log)
    assert len(lines) == 6 and len({rate for _, rate, _ in lines}) == 6  # every trial trained once
    assert len({pid for pid, _, _ in lines}) == 2  # both processes trained trials


@pytest.mark.slow  # starts a process and kills it
def test_a_study_resumes_after_its_process_is_killed(tmp_path):
    folder, log = tmp_path / "study", tmp_path / "trials.log"
    worker = multiprocessing.get_context("spawn").Process(target=study_worker, args=(folder, 6, log, 0.4, 1))
    worker.start()
    deadline = time.time() + 120
    while time.time() < deadline and not (log.is_file() and len(_log(log)) >= 2):
        time.sleep(0.1)
    time.sleep(0.5)  # into the next trial's first evaluation
    os.kill(worker.pid, signal.SIGKILL)
    worker.join()
    before = {rate for _, rate, _ in _log(log)}
    assert 2 <= len(before) < 6

    trials = run_study(folder, search(6), 13, objective(log, 0.0))
    finished, failed = _finished(trials), [t for t in trials if t.state == TrialState.FAIL]
    assert len(finished) == 6
    assert len(failed) == 1  # the trial the killed process was training...
    retried = [t for t in trials if t.user_attrs.get("retry_of") == failed[0].number]
    assert [t.params for t in retried] == [failed[0].params]  # ...is trained again with its values
    lines = _log(log)
    assert len(lines) == 6 and len({rate for _, rate, _ in lines}) == 6  # no finished trial trained twice
    assert before <= {rate for _, rate, _ in lines}


def _storage(folder):
    from promptlearn.experiment.optuna_search import _journal

    return _journal(folder / JOURNAL)


@pytest.mark.slow  # trains the tiny model three times per run
def test_a_grid_run_is_an_optuna_study_on_the_real_trainer(tiny_bert_dir, task_dir, tmp_path):
    space = {"learning_rate": {"log_uniform": [1.0e-4, 1.0e-1]}, "max_steps": {"int": [2, 4]}}
    values = experiment_values(
        tiny_bert_dir, task_dir, tmp_path / "out", modes=["pet"], seeds=[13], train={"eval_every": 1, "batch_size": 2}
    ) | {"search": {"backend": "optuna", "trials": 3, "startup_trials": 1, "space": space}}
    values["tasks"][0]["patterns"] = values["tasks"][0]["patterns"][:1]
    experiment = Experiment.from_dict(values)
    records = run_experiment(experiment)
    write_report(experiment, records, "fewshot")
    (record,) = records
    assert record["status"] == "ok"
    study = record["study"]
    assert study["trials"] == 3 and study["failed"] == 0
    assert len(record["search"]) == 3 - study["pruned"]  # the completed trials, as a grid lists its candidates
    kept = tmp_path / "out" / study["folder"]
    trial = json.loads((kept / "trial.json").read_text())
    # the run reports the kept trial: its settings, its dev metrics, the best completed on dev
    assert (record["config"], record["dev"]) == (trial["config"], trial["dev"])
    best = max(record["search"], key=lambda t: (t["dev"]["accuracy"], t["dev"]["macro_f1"]))
    assert record["config"]["learning_rate"] == best["learning_rate"]
    assert record["config"]["max_steps"] == best["max_steps"]
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert f"(trial {study['kept']} of 3, {study['pruned']} pruned)" in summary

    # a second start finds the run finished: no trial is added
    assert run_experiment(Experiment.from_dict(values)) == records
    journal = optuna.load_study(study_name=STUDY_NAME, storage=_storage(kept.parent))
    assert len(journal.get_trials()) == 3


@pytest.mark.slow  # two processes train the tiny model
def test_workers_share_the_grids_studies(tiny_bert_dir, task_dir, tmp_path):
    space = {"learning_rate": {"log_uniform": [1.0e-4, 1.0e-1]}}
    values = experiment_values(
        tiny_bert_dir, task_dir, tmp_path / "out", modes=["pet"], train={"max_steps": 4, "eval_every": 2}
    ) | {"search": {"backend": "optuna", "trials": 4, "space": space}}
    values["tasks"][0]["patterns"] = values["tasks"][0]["patterns"][:1]
    records = run_experiment(Experiment.from_dict(values), workers=2)
    assert [r["status"] for r in records] == ["ok", "ok"]
    for record in records:  # whichever process trained which trial, each study finished exactly its trials
        folder = (tmp_path / "out" / record["study"]["folder"]).parent
        trials = optuna.load_study(study_name=STUDY_NAME, storage=_storage(folder)).get_trials()
        assert len(_finished(trials)) == len(trials) == 4
