"""``train --recipe auto`` (promptlearn.run.recipe): one run folder that evaluate, predict, export and the API load,
and that an interrupted training resumes without retraining finished members."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from promptlearn import api
from promptlearn.data.examples import load_task_data
from promptlearn.errors import PromptlearnError
from promptlearn.outputs import RUN, mark_output
from promptlearn.run import recipe as recipe_module
from promptlearn.run.ensemble import baseline_accuracy
from promptlearn.run.folder import load_run as load_single_run
from tests.helpers.cli import invoke
from tests.helpers.fixtures import POOL_TASK, TINY_MULTI_LABEL_WORDS, write_task

#: a recipe at the fixture's size: 2 shots per label, 2-3 steps per training
SMALL = ["--shots", 2, "--steps-epochs", 1, "--steps-min", 2, "--steps-max", 3, "--batch-size", 4]
PROMPT = ["--pattern", "{text} it was [MASK] .", "--verbalizer", "positive=great,negative=terrible"]


def _train(model, data, output, *extra):
    return invoke("train", "--recipe", "auto", "--model", model, "--data", data, *PROMPT, *SMALL, "--output", output,
                  *extra)  # fmt: skip


@pytest.fixture(scope="module")
def trained(tiny_bert_dir, tmp_path_factory):
    """A finished recipe folder and its data folder."""
    root = tmp_path_factory.mktemp("recipe")
    data = write_task(root / "pool", POOL_TASK)
    result = _train(tiny_bert_dir, data, root / "run")
    assert result.exit_code == 0, result.output
    return root / "run", data


@pytest.mark.slow
def test_the_recipe_folder_records_members_choices_and_the_rule(trained):
    folder, _ = trained
    recipe = json.loads((folder / "recipe.json").read_text())
    assert [m["name"] for m in recipe["members"]] == ["pet-p0", "mlm_head-p0", "head"]
    assert recipe["dev_examples"] == 4 and recipe["guessing_dev_accuracy"] == 0.5
    for member in recipe["members"]:
        assert (folder / "members" / member["name"] / "weights.safetensors").is_file()
        assert member["grid"][: len(recipe_module.GRIDS[member["mode"]])] == list(recipe_module.GRIDS[member["mode"]])
        assert member["steps"] == 2  # --steps auto: 1 epoch of 4 examples in batches of 4, raised to the floor 2
    margins = [max(m["dev_accuracy"] - recipe["guessing_dev_accuracy"], 0.0) for m in recipe["members"]]
    expected = [m / sum(margins) for m in margins] if any(margins) else [1 / len(margins)] * len(margins)
    assert [m["weight"] for m in recipe["members"]] == pytest.approx(expected)
    assert [m["kept"] for m in recipe["members"]] == [w > 0 for w in expected]
    assert recipe["member_rule"] == "dev-margin-weights"
    trials = [
        t
        for m in recipe["members"]
        for t in json.loads((folder / "members" / m["name"] / "search.json").read_text())["trials"]
    ]
    assert all(t["seconds"] > 0 for t in trials) and recipe["training_seconds"] == pytest.approx(
        sum(t["seconds"] for t in trials), abs=0.05
    )
    assert set(json.loads((folder / "metrics.json").read_text())) == {"dev", "test"}


@pytest.mark.slow
def test_the_api_loads_a_recipe_as_the_weighted_mean_of_its_kept_members(trained):
    folder, data = trained
    loaded = api.load_run(folder)
    assert isinstance(loaded, api.Recipe)
    test = load_task_data(str(data)).split("test")
    kept = [m for m in json.loads((folder / "recipe.json").read_text())["members"] if m["kept"]]
    members = [load_single_run(folder / "members" / m["name"]) for m in kept]
    probs = [_aligned(m, test, loaded.labels) for m in members]
    by_hand = sum(m["weight"] * p for m, p in zip(kept, probs, strict=True)) / sum(m["weight"] for m in kept)
    np.testing.assert_allclose(loaded.predict_proba(test), by_hand, rtol=1e-6)


@pytest.mark.slow
def test_a_recipe_predicts_with_the_weights_its_folder_records(trained, tmp_path):
    folder, data = trained
    copy = tmp_path / "run"
    shutil.copytree(folder, copy)
    recipe = json.loads((copy / "recipe.json").read_text())
    for member, weight in zip(recipe["members"], [0.7, 0.2, 0.1], strict=True):
        member |= {"weight": weight, "kept": True}
    (copy / "recipe.json").write_text(json.dumps(recipe))
    test = load_task_data(str(data)).split("test")
    loaded = api.load_run(copy)
    probs = [_aligned(load_single_run(copy / "members" / m["name"]), test, loaded.labels) for m in recipe["members"]]
    np.testing.assert_allclose(loaded.predict_proba(test), 0.7 * probs[0] + 0.2 * probs[1] + 0.1 * probs[2], rtol=1e-6)
    # a recipe from before the weights: its kept members weigh the same
    for member in recipe["members"]:
        del member["weight"]
    (copy / "recipe.json").write_text(json.dumps(recipe))
    np.testing.assert_allclose(api.load_run(copy).predict_proba(test), np.mean(probs, axis=0), rtol=1e-6)


def _aligned(run, examples, labels):
    return run.predict_proba(examples)[:, [run.pvp.labels.index(label) for label in labels]]


@pytest.mark.slow
def test_evaluate_and_predict_take_the_recipe_folder_like_any_run(trained, tmp_path):
    folder, data = trained
    result = invoke("evaluate", "--run", folder)
    assert result.exit_code == 0, result.output
    evaluated = json.loads(result.output)
    assert evaluated["accuracy"] == json.loads((folder / "metrics.json").read_text())["test"]["accuracy"]
    result = invoke("predict", "--run", folder, "--input", data / "test.jsonl")
    assert result.exit_code == 0, result.output
    predicted = [json.loads(line) for line in result.output.splitlines()]
    stored = [json.loads(line) for line in (folder / "predictions.jsonl").read_text().splitlines()]
    assert [p["probabilities"] for p in predicted] == [p["probabilities"] for p in stored]


@pytest.mark.slow
def test_an_onnx_export_of_a_recipe_predicts_what_the_folder_does(trained, tmp_path):
    pytest.importorskip("onnxruntime", reason="ONNX export needs the onnx extra: pip install 'promptlearn[onnx]'")
    folder, data = trained
    result = invoke("export", "--run", folder, "--format", "onnx", "--output", tmp_path / "onnx")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "onnx" / "manifest.json").read_text())
    loaded = api.load_run(folder)
    assert manifest["members"] and manifest["labels"] == loaded.labels and manifest["weights"] == loaded.weights
    result = invoke("predict", "--run", tmp_path / "onnx", "--input", data / "test.jsonl")
    assert result.exit_code == 0, result.output
    exported = [json.loads(line)["probabilities"] for line in result.output.splitlines()]
    stored = [json.loads(line)["probabilities"] for line in (folder / "predictions.jsonl").read_text().splitlines()]
    for mine, theirs in zip(exported, stored, strict=True):
        assert mine == pytest.approx(theirs, abs=1e-4)
    result = invoke("export", "--run", folder, "--merge", "--output", tmp_path / "merged")
    assert result.exit_code == 2 and "export it with --format onnx" in result.output


@pytest.mark.slow
def test_an_interrupted_recipe_resumes_without_retraining_finished_members(tiny_bert_dir, tmp_path, monkeypatch):
    data = write_task(tmp_path / "pool", POOL_TASK)
    fit, modes = recipe_module.fit, []

    def failing_at_head(config, *args, **kwargs):
        if config.mode == "head":
            raise KeyboardInterrupt  # the user's Ctrl-C while the third member trains
        modes.append(config.mode)
        return fit(config, *args, **kwargs)

    monkeypatch.setattr(recipe_module, "fit", failing_at_head)
    with pytest.raises(KeyboardInterrupt):
        api.train_recipe(_config(tiny_bert_dir, data), [(None, "{text} it was [MASK] .")], tmp_path / "run")
    assert sorted(p.name for p in (tmp_path / "run" / "members").iterdir()) == ["mlm_head-p0", "pet-p0"]
    with pytest.raises(PromptlearnError, match="did not finish"):
        api.load_run(tmp_path / "run")

    monkeypatch.setattr(
        recipe_module, "fit", lambda config, *a, **k: (modes.append(config.mode), fit(config, *a, **k))[1]
    )
    modes.clear()
    metrics = api.train_recipe(_config(tiny_bert_dir, data), [(None, "{text} it was [MASK] .")], tmp_path / "run")
    assert set(modes) == {"head"}  # only the member without a folder trained
    assert (tmp_path / "run" / "recipe.json").is_file() and "test" in metrics


def test_the_same_train_command_resumes_an_interrupted_recipe_folder(trained, tiny_bert_dir, tmp_path, caplog):
    """The CLI's early output check knows a recipe resumes: it once refused the folder as 'not empty'."""
    folder, data = trained
    shutil.copytree(folder, tmp_path / "run")
    (tmp_path / "run" / recipe_module.RECIPE_FILE).unlink()  # interrupted before the members were combined
    caplog.set_level(logging.INFO, logger="promptlearn")
    result = _train(tiny_bert_dir, data, tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert sum("already trained, kept" in r.getMessage() for r in caplog.records) == 3  # pet, mlm_head, head
    resumed, finished = (json.loads((f / "recipe.json").read_text()) for f in (tmp_path / "run", folder))
    assert resumed == finished


def test_a_recipe_is_not_resumed_into_a_folder_of_another_kind(trained, tiny_bert_dir, tmp_path):
    _, data = trained
    mark_output(tmp_path / "run", RUN)
    (tmp_path / "run" / "metrics.json").write_text("{}")
    result = _train(tiny_bert_dir, data, tmp_path / "run")
    assert result.exit_code == 2
    assert "holds a promptlearn run folder, not a recipe one: give another folder, or pass --overwrite" in result.output
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [".promptlearn-run", "metrics.json"]


def _config(model, data):
    return api.RunConfig(
        model=str(model), data=str(data), pattern="{text} it was [MASK] .",
        verbalizer={"positive": ["great"], "negative": ["terrible"]}, shots=2, steps_epochs=1, steps_min=2,
        steps_max=3, batch_size=4,
    )  # fmt: skip


def test_an_unknown_recipe_is_refused_before_anything_loads(tiny_bert_dir, tmp_path):
    data = write_task(tmp_path / "pool", POOL_TASK)
    result = invoke("train", "--recipe", "best", "--model", tiny_bert_dir, "--data", data, *PROMPT, "--output",
                    tmp_path / "run")  # fmt: skip
    assert result.exit_code == 2 and "--recipe must be one of auto" in result.output
    assert not (tmp_path / "run").exists()


def test_members_are_pet_and_mlm_head_per_pattern_and_one_head():
    members = recipe_module.recipe_members([(0, "a [MASK]"), (2, "b [MASK]")])
    assert [(m.name, m.mode, m.pattern_id) for m in members] == [
        ("pet-p0", "pet", 0), ("pet-p2", "pet", 2), ("mlm_head-p0", "mlm_head", 0), ("mlm_head-p2", "mlm_head", 2),
        ("head", "head", 0),
    ]  # fmt: skip
    assert baseline_accuracy(np.array([0, 1]), 2) == 0.5


def test_a_task_that_is_not_single_label_is_refused_before_the_folder_is_made(
    tiny_bert_dir, tiny_multi_label_dir, tmp_path
):
    words = ",".join(f"{label}={words[0]}" for label, words in TINY_MULTI_LABEL_WORDS.items())
    result = invoke(
        "train", "--recipe", "auto", "--model", tiny_bert_dir, "--data", tiny_multi_label_dir, "--pattern",
        "{text} it was [MASK] .", "--verbalizer", words, *SMALL, "--output", tmp_path / "run",
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "--recipe auto cannot be used with --task-type multi-label: a multi-label example has any number" in (
        " ".join(result.output.split())
    )
    assert not (tmp_path / "run").exists()
