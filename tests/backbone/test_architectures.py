"""The architecture table: the one place that knows encoder families, and one entry adds a family."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from promptlearn import api
from promptlearn.backbone.architectures import ARCHITECTURES, Architecture, architecture
from promptlearn.errors import PromptlearnError
from tests.helpers.fixtures import REPO, tiny_bert, tiny_tokenizer
from tests.helpers.modes import tiny_config

TABLE = REPO / "promptlearn" / "backbone" / "architectures.py"
#: a family transformers and promptlearn do not know: BERT's modules under a name of its own
COPY = "bert-copy"


def test_no_module_outside_the_table_reads_model_type():
    readers = [
        str(path.relative_to(REPO))
        for path in sorted((REPO / "promptlearn").rglob("*.py"))
        if path != TABLE and "model_type" in path.read_text()
    ]
    assert not readers, f"ask promptlearn.backbone.architectures.architecture(model) instead, in: {readers}"


def test_a_family_outside_the_table_gets_the_fallback():
    from transformers import BertConfig

    config = BertConfig()
    config.model_type = COPY  # an instance attribute, as a config of an unknown family has
    facts = architecture(config)
    assert facts == Architecture(COPY)
    assert (facts.self_attention, facts.query_value_targets(), facts.mlm_head, facts.mask_only_layer) == (
        None,
        None,
        None,
        False,
    )
    assert architecture(tiny_bert()) is architecture(tiny_bert().config) is ARCHITECTURES["bert"]


def test_lora_targets_are_peft_s_where_peft_has_them():
    """The table states each family's query/value names; where peft has them too, they agree (as before the table)."""
    from peft.utils import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as peft_targets

    shared = [name for name in ARCHITECTURES if peft_targets.get(name)]
    assert shared, "peft knows none of our families any more"
    assert {name: ARCHITECTURES[name].query_value_targets() for name in shared} == {
        name: peft_targets[name] for name in shared
    }


@pytest.fixture(scope="module")
def copy_dirs(tmp_path_factory) -> dict[str, Path]:
    """The same random BERT saved twice: as ``bert``, and as the family ``bert-copy`` (registered with
    transformers' Auto classes, as a new family's own package would be)."""
    from transformers import AutoConfig, AutoModelForMaskedLM, BertConfig, BertForMaskedLM

    class CopyConfig(BertConfig):
        model_type = COPY

    class CopyForMaskedLM(BertForMaskedLM):
        config_class = CopyConfig

    AutoConfig.register(COPY, CopyConfig, exist_ok=True)
    AutoModelForMaskedLM.register(CopyConfig, CopyForMaskedLM, exist_ok=True)
    bert = tiny_bert(initializer_range=0.2)
    copy = CopyForMaskedLM(CopyConfig(**bert.config.to_dict()))
    copy.load_state_dict(bert.state_dict())
    folders = {}
    for name, model in (("bert", bert), (COPY, copy)):
        folders[name] = tmp_path_factory.mktemp(name)
        model.save_pretrained(folders[name])
        tiny_tokenizer().save_pretrained(folders[name])
    assert json.loads((folders[COPY] / "config.json").read_text())["model_type"] == COPY
    return folders


@pytest.mark.parametrize(
    ("mode", "refusal"),
    [("ptuning_v2", "Deep prompts .* do not support 'bert-copy'"), ("lora", "no default targets for model type")],
)
def test_a_new_family_is_one_table_entry(mode, refusal, copy_dirs, tiny_task_dir, tmp_path, monkeypatch):
    """Without an entry the family gets the fallback, which these modes refuse; with one entry (here BERT's
    facts under the new name) it trains and predicts exactly as BERT does."""
    config = tiny_config(copy_dirs[COPY], tiny_task_dir, mode, max_steps=2)
    with pytest.raises(PromptlearnError, match=refusal):
        api.build(config)
    monkeypatch.setitem(ARCHITECTURES, COPY, dataclasses.replace(ARCHITECTURES["bert"], name=COPY))
    runs = {}
    for name, folder in copy_dirs.items():
        api.train(config.replace(model=str(folder)), tmp_path / name)
        runs[name] = (tmp_path / name / "predictions.jsonl").read_text()
    assert runs[COPY] == runs["bert"]
