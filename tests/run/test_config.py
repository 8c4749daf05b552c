import json

import pytest

from promptlearn.errors import PromptlearnError
from promptlearn.run.config import DEFAULT_MAX_STEPS, RunConfig

BASE = {"model": "m", "data": "d", "pattern": "It was [MASK]."}


def test_defaults_resolve_to_max_steps():
    assert RunConfig(**BASE).max_steps == DEFAULT_MAX_STEPS
    assert RunConfig(**BASE, epochs=3).max_steps is None


def test_round_trip_through_dict():
    config = RunConfig(**BASE, shots=16, mode_options={"prompt_length": 4})
    assert RunConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_steps": 10, "epochs": 1}, "not both"),
        ({"batch_size": 0}, "--batch-size must be positive"),
        ({"learning_rate": -1.0}, "--lr must be positive"),
        ({"warmup_ratio": 1.5}, "--warmup-ratio must be in"),
        ({"precision": "fp8"}, "--precision must be one of"),
    ],
)
def test_invalid_values_are_explained(changes, message):
    with pytest.raises(PromptlearnError, match=message):
        RunConfig(**BASE, **changes)


def test_unknown_and_missing_keys_are_errors():
    with pytest.raises(PromptlearnError, match=r"unknown keys \['lr'\]"):
        RunConfig.from_dict({**BASE, "lr": 0.1})
    with pytest.raises(PromptlearnError, match=r"missing keys \['pattern'\]"):
        RunConfig.from_dict({"model": "m", "data": "d"})


def test_public_api_is_importable_from_the_package():
    import promptlearn
    from promptlearn import PVP, Pattern, PromptModel, RunConfig, Trainer, Verbalizer, api
    from promptlearn.prompt.pattern import Pattern as ParserPattern

    assert Pattern is ParserPattern
    assert all(getattr(promptlearn, name) is not None for name in promptlearn.__all__)
    assert all(isinstance(c, type) for c in (PVP, PromptModel, RunConfig, Trainer, Verbalizer))
    assert callable(api.train)
    with pytest.raises(AttributeError):
        promptlearn.Nonexistent  # noqa: B018


@pytest.mark.parametrize("name", ["learning_rate", "weight_decay", "max_grad_norm", "warmup_ratio", "epochs"])
def test_non_finite_numbers_are_refused_naming_the_flag(name):
    values = {"model": "m", "data": "d", "pattern": "[MASK]", name: float("nan")}
    with pytest.raises(PromptlearnError, match=r"must be a finite number, got nan"):
        RunConfig.from_dict(values)


# Issue 20, item 22: a file's values get the flags' checks, named by file and key, never a traceback.
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"seed": -1}, "seed must be between 0 and 4294967295, got -1"),
        ({"seed": 2**32}, "seed must be between 0 and 4294967295"),
        ({"batch_size": 0}, "batch_size must be positive, got 0"),
        ({"learning_rate": -1.0}, "learning_rate must be positive"),
        ({"max_steps": 5, "epochs": 2.0}, "Give max_steps or epochs, not both"),
        ({"labels": [1, 2]}, r"labels must be a list of distinct label names \(strings\), got \[1, 2\]"),
        ({"labels": ["a", "a"]}, "labels must be a list of distinct label names"),
        ({"verbalizer": {"positive": [1]}}, "verbalizer: label 'positive' needs one or more non-empty words, got"),
        ({"verbalizer_search": {"top_k": "5"}}, r"verbalizer_search: top_k must be a positive integer, got '5'"),
        ({"verbalizer_search": {"top_k": 0}}, r"verbalizer_search: top_k must be a positive integer, got 0"),
    ],
)
def test_a_config_file_gets_the_checks_of_the_flags(changes, message):
    with pytest.raises(PromptlearnError, match=rf"^run\.json: {message}"):
        RunConfig.from_dict({**BASE, **changes}, origin="run.json")


@pytest.mark.parametrize("values", [[BASE], "model", 3, None])
def test_a_config_file_that_is_not_a_mapping_is_refused(values, tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(values))
    with pytest.raises(PromptlearnError, match=rf"^{path}: a run config is a mapping of keys to values, got "):
        RunConfig.load(path)
