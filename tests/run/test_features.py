"""The run-level feature registry drives the pipeline: a feature is its module plus one line in
promptlearn/run/features.py, and fit, train and load_run call its hooks without naming it."""

from __future__ import annotations

import json

import pytest

from promptlearn import api
from promptlearn.errors import PromptlearnError
from promptlearn.run import features
from promptlearn.run.feature import Feature
from tests.helpers.modes import tiny_config


class Spy(Feature):
    """Records its hooks in order; leaves a report, a file in the run folder, and reads the file back."""

    def __init__(self):
        self.calls = []

    def check(self, config):
        self.calls.append("check")
        if config.seed == 99:
            raise PromptlearnError("the spy refuses seed 99")

    def prepare(self, fitting):
        self.calls.append("prepare")
        fitting.reports["spy"] = {"train_examples": len(fitting.train)}

    def soft_targets(self, fitting, pvp):
        self.calls.append("soft_targets")

    def objective(self, fitting, pvp, model):
        self.calls.append("objective")
        return {}

    def setup(self, run, fitting):
        self.calls.append("setup")

    def after_fit(self, run, fitting):
        self.calls.append("after_fit")

    def save(self, run, folder):
        self.calls.append("save")
        (folder / "spy.json").write_text(json.dumps({"labels": run.pvp.labels}))

    def load(self, run, folder):
        self.calls.append("load")
        self.loaded = json.loads((folder / "spy.json").read_text())


@pytest.fixture
def spy(monkeypatch):
    registered = Spy()
    monkeypatch.setattr(features, "FEATURES", [*features.FEATURES, registered])
    return registered


def test_a_registered_feature_is_checked_fitted_saved_and_loaded(spy, tiny_bert_dir, tiny_task_dir, tmp_path):
    config = tiny_config(tiny_bert_dir, tiny_task_dir, "pet", max_steps=1)
    assert spy.calls == ["check"]
    with pytest.raises(PromptlearnError, match="the spy refuses seed 99"):
        config.replace(seed=99)

    spy.calls.clear()
    metrics = api.train(config, tmp_path / "run")
    hooks = [call for call in spy.calls if call != "check"]  # every RunConfig made on the way is checked
    assert hooks == ["prepare", "soft_targets", "objective", "setup", "after_fit", "save"]
    assert list(metrics)[:3] == ["dev", "spy", "training"]  # reports come after dev
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["spy"] == {
        "train_examples": metrics["training"]["train_examples"]
    }

    spy.calls.clear()
    run = api.load_run(tmp_path / "run")
    assert [call for call in spy.calls if call != "check"] == ["load"]
    assert spy.loaded == {"labels": run.pvp.labels}


def test_a_features_options_become_run_config_fields_by_its_registration(monkeypatch):
    """The registration line alone gives RunConfig the feature's options, after the other features', before
    working_dir / as_given; a name RunConfig already has is refused at import, not silently shadowed."""
    import dataclasses
    from typing import ClassVar

    from promptlearn.run.config import with_feature_options
    from promptlearn.run.feature import option

    class WithOption(Feature):
        options: ClassVar = {"spy_strength": ("float", option(0.5, "How hard the spy looks."))}

    monkeypatch.setattr(features, "FEATURES", [*features.FEATURES, WithOption()])

    @dataclasses.dataclass
    @with_feature_options
    class Config:
        model: str
        working_dir: str | None = None
        as_given: dict = dataclasses.field(default_factory=dict)

    names = [item.name for item in dataclasses.fields(Config)]
    assert names[0] == "model" and names[-3:] == ["spy_strength", "working_dir", "as_given"]
    assert names[1:3] == ["aux_mlm_weight", "unlabeled"] and "calibrate" in names
    field = dataclasses.fields(Config)[names.index("spy_strength")]
    assert (field.default, field.metadata["help"]) == (0.5, "How hard the spy looks.")
    assert Config("m").spy_strength == 0.5

    class Clash(Feature):
        options: ClassVar = {"model": ("str", option("x", "Shadows RunConfig's model."))}

    monkeypatch.setattr(features, "FEATURES", [Clash()])
    with pytest.raises(TypeError, match="declares option 'model'"):

        @with_feature_options
        class Again:
            model: str
            working_dir: str | None = None
            as_given: dict = dataclasses.field(default_factory=dict)
