"""--contrastive-weight: the views a run makes, training through every cloze mode, config.json, refusals."""

from __future__ import annotations

import json

import pytest
import torch

from promptlearn import api
from promptlearn.data.examples import load_task_data
from promptlearn.errors import PromptlearnError
from promptlearn.modes import MODES
from promptlearn.prompt.presets import task_patterns
from promptlearn.run.config import RunConfig
from promptlearn.run.contrastive import Views
from promptlearn.training.supcon import VIEW_COUNT, VIEWS
from tests.helpers.cli import invoke, tiny_train_args
from tests.helpers.modes import contract_options, tiny_config


def test_views_are_each_example_under_drawn_preset_patterns_and_evaluation_gets_none(tiny_bert_dir, tiny_task_dir):
    data = load_task_data(str(tiny_task_dir))
    config = tiny_config(tiny_bert_dir, tiny_task_dir, "pet", task="sst2", contrastive_weight=1.0)
    run = api.build(config, data)
    train = data.split("train")
    views = Views(run, train, {"patterns"})

    batch = views(run.pvp.encode(train))

    under = {preset.id: api.build(config.replace(pattern=preset.pattern), data).pvp for preset in task_patterns("sst2")}
    encodings = [{tuple(e.input_ids) for e in (pvp.encode([ex])[0] for pvp in under.values())} for ex in train]
    rows = batch[VIEWS]["input_ids"].tolist()
    assert len(rows) == VIEW_COUNT * len(train)
    for index, row in enumerate(rows):  # view-major: row v * B + i is example i's view v
        width = batch[VIEWS]["attention_mask"][index].sum().item()
        assert tuple(row[:width]) in encodings[index % len(train)]
    assert len({tuple(r) for r in rows}) > len(train), "the views draw more than one pattern"
    assert VIEWS not in views(run.pvp.encode(data.split("dev"))), "evaluation batches carry no views"


def test_demonstration_views_draw_other_demonstration_sets(tiny_bert_dir, tiny_task_dir):
    data = load_task_data(str(tiny_task_dir))
    config = tiny_config(tiny_bert_dir, tiny_task_dir, "pet", demonstrations=True, demonstration_sets=4, max_length=24,
                         demonstration_length=16,
                         contrastive_weight=1.0, contrastive_views="demonstrations")  # fmt: skip
    run, _ = api.fit(config, data)
    train = data.split("train")
    draws = [{tuple(e.input_ids) for e in run.pvp.encode([ex], draw=d)} for d in range(4) for ex in train]
    allowed = [set().union(*(draws[d * len(train) + i] for d in range(4))) for i in range(len(train))]
    views = run.trainer.collate(run.pvp.encode(train))[VIEWS]
    for index, row in enumerate(views["input_ids"].tolist()):
        width = views["attention_mask"][index].sum().item()
        assert tuple(row[:width]) in allowed[index % len(train)]


def test_pattern_and_demonstration_views_render_demonstrations_in_the_views_pattern(tiny_bert_dir, tiny_task_dir):
    data = load_task_data(str(tiny_task_dir))
    config = tiny_config(tiny_bert_dir, tiny_task_dir, "pet", task="sst2", demonstrations=True, demonstration_sets=2,
                         max_length=24, demonstration_length=16, contrastive_weight=1.0,
                         contrastive_views="patterns,demonstrations")  # fmt: skip
    run, _ = api.fit(config, data)
    train = data.split("train")
    allowed = [set() for _ in train]
    for preset in task_patterns("sst2"):  # each pattern's own run: its demonstrations filled in its pattern
        alone, _ = api.fit(config.replace(pattern=preset.pattern, contrastive_weight=0.0, max_steps=1), data)
        for draw in range(2):
            for index, encoded in enumerate(alone.pvp.encode(train, draw=draw)):
                allowed[index].add(tuple(encoded.input_ids))
    views = run.trainer.collate(run.pvp.encode(train))[VIEWS]
    for index, row in enumerate(views["input_ids"].tolist()):
        width = views["attention_mask"][index].sum().item()
        assert tuple(row[:width]) in allowed[index % len(train)]


def cloze_cases():
    """Every mode at its defaults, with what --contrastive-weight does to it: trains, or the refusal's words."""
    refused = {"head": "reads none", "finetune": "reads none", "setfit": "reads none"}
    refused["mlm_head"] = "trains nothing they depend on"
    return [pytest.param(mode, refused.get(mode), id=mode) for mode in sorted(MODES) if mode != "qlora"]


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "refusal"), cloze_cases())
def test_every_cloze_mode_trains_with_the_term_and_reloads(mode, refusal, tiny_bert_dir, tiny_task_dir, tmp_path):
    options = contract_options(mode, tiny_bert_dir, tmp_path)
    config = tiny_config(tiny_bert_dir, tiny_task_dir, mode, mode_options=options, contrastive_weight=1.0,
                         contrastive_views="dropout", eval_every=1)  # fmt: skip
    if refusal is not None:
        with pytest.raises(PromptlearnError, match=refusal):
            api.train(config, tmp_path / "run")
        return
    metrics = api.train(config, tmp_path / "run")
    assert all(torch.isfinite(torch.tensor(entry["loss"])) for entry in metrics["training"]["history"])
    reloaded = api.load_run(tmp_path / "run")
    saved = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    assert reloaded.predict(load_task_data(str(tiny_task_dir)).split("test")) == saved


def test_the_term_changes_what_pet_learns(tiny_bert_dir, tiny_task_dir, tmp_path):
    data = load_task_data(str(tiny_task_dir))
    config = tiny_config(tiny_bert_dir, tiny_task_dir, "pet", contrastive_views="dropout")
    plain, _ = api.fit(config, data)
    contrasted, _ = api.fit(config.replace(contrastive_weight=1.0), data)
    test = data.split("test")
    assert not torch.allclose(torch.tensor(plain.predict_proba(test)), torch.tensor(contrasted.predict_proba(test)))


def test_config_json_keeps_the_options_only_when_set(tiny_bert_dir, tiny_task_dir, tmp_path):
    base = tiny_config(tiny_bert_dir, tiny_task_dir, "pet")
    assert not any(key.startswith("contrastive") for key in base.to_dict())
    custom = base.replace(contrastive_weight=0.5, contrastive_temperature=0.1, contrastive_views="dropout")
    saved = custom.to_dict()
    assert (saved["contrastive_weight"], saved["contrastive_temperature"], saved["contrastive_views"]) == (
        0.5, 0.1, "dropout")  # fmt: skip
    assert RunConfig.from_dict(saved) == custom and RunConfig.from_dict(base.to_dict()) == base


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"contrastive_weight": -1.0}, "--contrastive-weight must be >= 0"),
        ({"contrastive_temperature": 0.0}, "--contrastive-temperature must be positive"),
        ({"contrastive_views": "patterns,noise"}, "--contrastive-views takes a comma-separated list"),
        ({"contrastive_views": ","}, "--contrastive-views takes a comma-separated list"),
        ({"contrastive_weight": 1.0}, "no --task"),
        ({"contrastive_weight": 1.0, "contrastive_views": "demonstrations"}, "give --demonstrations"),
    ],
)
def test_bad_settings_are_refused(changes, message):
    with pytest.raises(PromptlearnError, match=message):
        RunConfig(model="m", data="d", pattern="{text} [MASK]", **changes)


def test_the_cli_refuses_with_exit_status_2(tiny_bert_dir, tiny_task_dir, tmp_path):
    result = invoke(*tiny_train_args(tiny_bert_dir, tiny_task_dir, tmp_path / "run"), "--contrastive-weight", 1)
    assert result.exit_code == 2
    assert "no --task" in result.output
