"""--objective adapet: a run trains, saves and reloads with it; it changes what is learned; refusals."""

from __future__ import annotations

import json

import pytest
import torch

from promptlearn import api
from promptlearn.data.examples import load_task_data
from promptlearn.errors import PromptlearnError
from promptlearn.run.config import RunConfig
from promptlearn.training.adapet import Adapet
from tests.helpers.cli import invoke, tiny_train_args
from tests.helpers.modes import tiny_config


@pytest.mark.parametrize("mode", ["pet", "soft_prompt", pytest.param("lora", marks=pytest.mark.slow)])
def test_a_cloze_run_trains_with_adapet_and_reloads(mode, tiny_bert_dir, tiny_task_dir, tmp_path):
    config = tiny_config(tiny_bert_dir, tiny_task_dir, mode, objective="adapet", eval_every=1)
    metrics = api.train(config, tmp_path / "run")
    assert json.loads((tmp_path / "run" / "config.json").read_text())["objective"] == "adapet"
    assert all(torch.isfinite(torch.tensor(entry["loss"])) for entry in metrics["training"]["history"])
    reloaded = api.load_run(tmp_path / "run")
    saved = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    assert reloaded.predict(load_task_data(str(tiny_task_dir)).split("test")) == saved


def test_adapet_is_the_trainers_task_loss_and_changes_what_pet_learns(tiny_bert_dir, tiny_task_dir):
    data = load_task_data(str(tiny_task_dir))
    config = tiny_config(tiny_bert_dir, tiny_task_dir, "pet")
    plain, _ = api.fit(config, data)
    adapet, _ = api.fit(config.replace(objective="adapet", adapet_mask_ratio=0.5, adapet_mlm_weight=0.5), data)
    task_loss = adapet.trainer.objective.task_loss
    assert isinstance(task_loss, Adapet) and (task_loss.mask_ratio, task_loss.mlm_weight) == (0.5, 0.5)
    test = data.split("test")
    assert not torch.allclose(torch.tensor(plain.predict_proba(test)), torch.tensor(adapet.predict_proba(test)))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mode": "head"}, "scores with a head of its own"),
        ({"mode": "bitfit", "mode_options": {"readout": "warp"}}, "scores with a head of its own"),
        ({"verbalizer": {"positive": ["unbelievable"], "negative": ["terrible"]}}, "needs single-token label words"),
    ],
)
def test_modes_and_words_adapet_cannot_read_are_refused(changes, message, tiny_bert_dir, tiny_task_dir):
    config = tiny_config(tiny_bert_dir, tiny_task_dir, "pet", objective="adapet").replace(**changes)
    with pytest.raises(PromptlearnError, match=message):
        api.fit(config, load_task_data(str(tiny_task_dir)))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"objective": "hinge"}, "--objective must be one of cross_entropy, adapet, got 'hinge'"),
        ({"adapet_mask_ratio": 0.0}, r"--adapet-mask-ratio must be in \(0, 1\]"),
        ({"adapet_mlm_weight": -1.0}, "--adapet-mlm-weight must be >= 0"),
        ({"objective": "adapet", "soft_labels": "targets.jsonl"}, "cannot learn --soft-labels"),
    ],
)
def test_bad_settings_are_refused(changes, message):
    with pytest.raises(PromptlearnError, match=message):
        RunConfig(model="m", data="d", pattern="{text} [MASK]", **changes)


def test_the_cli_refuses_a_head_mode_with_exit_status_2(tiny_bert_dir, tiny_task_dir, tmp_path):
    args = tiny_train_args(tiny_bert_dir, tiny_task_dir, tmp_path / "run")
    result = invoke(*args, "--objective", "adapet", "--mode", "head")
    assert result.exit_code == 2
    assert "--objective adapet reads the masked LM's head" in result.output
