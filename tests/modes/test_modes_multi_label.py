"""The mode contract on a multi-label task: every registered mode (its defaults) trains on the BCE of its
scores, saves, and reloads to the same predictions and threshold. A mode that could not serve multi-label
would have to refuse here with one message; none does, as every readout gives one score per label."""

from __future__ import annotations

import json

import pytest

from promptlearn import api
from promptlearn.data.examples import load_task_data
from promptlearn.errors import PromptlearnError
from promptlearn.modes import MODES
from tests.helpers.fixtures import TINY_MULTI_LABEL_WORDS
from tests.helpers.modes import contract_options, tiny_config


@pytest.mark.parametrize("mode", sorted(MODES))
def test_every_mode_trains_saves_and_reloads_a_multi_label_run(mode, tiny_bert_dir, tiny_multi_label_dir, tmp_path):
    options = contract_options(mode, tiny_bert_dir, tmp_path)
    config = tiny_config(tiny_bert_dir, tiny_multi_label_dir, mode, mode_options=options)
    if MODES[mode].shapes is not None and "multi-label" not in MODES[mode].shapes:
        with pytest.raises(PromptlearnError, match=f"--mode {mode} cannot be used with --task-type multi-label: "):
            api.train(config.replace(verbalizer=TINY_MULTI_LABEL_WORDS), tmp_path / "run")
        assert not (tmp_path / "run").exists()
        return
    metrics = api.train(config.replace(verbalizer=TINY_MULTI_LABEL_WORDS), tmp_path / "run")
    assert metrics["training"]["history"] == [] or "micro_f1" in metrics["training"]["history"][-1]
    assert set(metrics["dev"]) == {"micro_f1", "macro_f1", "samples_f1", "subset_accuracy"}
    reloaded = api.load_run(tmp_path / "run")
    stored = json.loads((tmp_path / "run" / "thresholds.json").read_text())
    assert reloaded.decision == {"threshold": stored["threshold"]}
    test = load_task_data(str(tiny_multi_label_dir)).split("test")
    saved = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    assert reloaded.predict(test) == saved
