"""readout=warp: class embeddings at [MASK] that start as the label words' output rows, then train."""

from __future__ import annotations

import pytest
import torch

from promptlearn import api
from promptlearn.data.examples import load_task_data
from promptlearn.errors import PromptlearnError
from promptlearn.model.prompt_model import PromptModel
from promptlearn.modes import get_mode
from promptlearn.modes.base import Mode
from promptlearn.readout.warp import WarpHead
from tests.helpers.fixtures import TINY_MODELS, tiny_bert
from tests.helpers.marks import first_fast
from tests.helpers.modes import contract_options, tiny_config

#: two words for one label, one for the other: a label's cloze score is the mean of its words' logits
TWO_WORDS = {"positive": ["great", "good"], "negative": ["terrible"]}
READOUT_MODES = ["soft_prompt", "ptuning", "ppt", "bitfit", "lora", "adapter", "ptuning_v2"]


def _build(model_dir, task_dir, mode, options, **changes):
    config = tiny_config(model_dir, task_dir, mode, mode_options=options, **({"verbalizer": TWO_WORDS} | changes))
    return api.build(config, load_task_data(str(task_dir)))


def _scores(run, examples) -> torch.Tensor:
    run.model.eval()
    with torch.no_grad():
        return run.model(run.pvp.collate(run.pvp.encode(examples)))


@pytest.mark.parametrize("mode", first_fast(READOUT_MODES))
def test_before_training_warp_scores_equal_the_cloze_scores(mode, tiny_bert_dir, tiny_task_dir, tmp_path):
    options = contract_options(mode, tiny_bert_dir, tmp_path)
    cloze = _build(tiny_bert_dir, tiny_task_dir, mode, options)
    warp = _build(tiny_bert_dir, tiny_task_dir, mode, options | {"readout": "warp"})
    assert isinstance(warp.model.mode.head, WarpHead) and cloze.model.mode.head is None
    examples = load_task_data(str(tiny_task_dir)).split("test")
    torch.testing.assert_close(_scores(warp, examples), _scores(cloze, examples))


@pytest.mark.parametrize("arch", first_fast(sorted(TINY_MODELS)))
def test_warp_equals_cloze_on_every_known_mlm_head(arch, tiny_model_dir, tiny_task_dir):
    """Each architecture's transform and decoder (ALBERT and ELECTRA: E-wide rows after an H -> E transform)."""
    cloze = _build(tiny_model_dir(arch), tiny_task_dir, "soft_prompt", {})
    warp = _build(tiny_model_dir(arch), tiny_task_dir, "soft_prompt", {"readout": "warp"})
    examples = load_task_data(str(tiny_task_dir)).split("test")
    torch.testing.assert_close(_scores(warp, examples), _scores(cloze, examples))


def test_warp_starts_from_the_mean_output_row_of_each_labels_words(tiny_bert_dir, tiny_task_dir):
    run = _build(tiny_bert_dir, tiny_task_dir, "soft_prompt", {"readout": "warp"})
    decoder = run.model.backbone.get_output_embeddings()
    ids = run.pvp.tokenizer.convert_tokens_to_ids(["great", "good", "terrible"])
    labels = run.pvp.labels
    head = run.model.mode.head
    rows = {"positive": decoder.weight[ids[:2]].mean(0), "negative": decoder.weight[ids[2]]}
    for index, label in enumerate(labels):
        torch.testing.assert_close(head.class_embeddings[index], rows[label])
    torch.testing.assert_close(head.class_bias[labels.index("negative")], decoder.bias[ids[2]])


@pytest.mark.slow
def test_warp_trains_its_class_embeddings_and_the_loss_goes_down(bert_tiny_dir, tiny_task_dir):
    """On the real bert-tiny (a random tiny encoder's [MASK] states barely differ between examples)."""
    run = _build(bert_tiny_dir, tiny_task_dir, "soft_prompt", {"readout": "warp"}, max_steps=30)
    train = run.pvp.encode(load_task_data(str(tiny_task_dir)).split("train"))
    batch = run.pvp.collate(train)
    head = run.model.mode.head
    before = [p.detach().clone() for p in head.parameters()]
    run.model.eval()
    with torch.no_grad():
        loss_before = run.trainer.objective.loss(run.model(batch), batch).item()
    run.trainer.fit(train, [])
    run.model.eval()
    with torch.no_grad():
        loss_after = run.trainer.objective.loss(run.model(batch), batch).item()
    assert all(not torch.equal(p.detach(), b) for p, b in zip(head.parameters(), before, strict=True))
    assert loss_after < 0.5 * loss_before


def test_warp_leaves_the_backbone_and_its_decoder_untouched(tiny_bert_dir, tiny_task_dir):
    """The class embeddings are copies: training them must not move the (tied) word embeddings."""
    run = _build(tiny_bert_dir, tiny_task_dir, "soft_prompt", {"readout": "warp"})
    embeddings = run.model.word_embeddings.weight.detach().clone()
    run.trainer.fit(run.pvp.encode(load_task_data(str(tiny_task_dir)).split("train")), [])
    assert torch.equal(run.model.word_embeddings.weight, embeddings)
    assert not any(name.startswith("backbone") for name, _ in run.model.mode.head.named_parameters())


def test_warp_refuses_multi_token_label_words_naming_their_tokens(tiny_bert_dir, tiny_task_dir):
    words = {"positive": ["unbelievable"], "negative": ["terrible"]}  # un ##believ ##able in the fixture vocab
    with pytest.raises(PromptlearnError, match=r"one-token label words.*\['un', '##believ', '##able'\]"):
        _build(tiny_bert_dir, tiny_task_dir, "soft_prompt", {"readout": "warp"}, verbalizer=words)


def test_a_head_made_from_label_words_needs_the_mode_to_use_a_verbalizer():
    """warp is a head *and* reads label words; a mode that says it has no verbalizer cannot own one."""

    class WarpWithoutWords(Mode):
        uses_verbalizer = False

        def attach(self, model) -> None:
            self.head = WarpHead(model)

    with pytest.raises(ValueError, match="must own a head exactly when it uses no verbalizer"):
        PromptModel(tiny_bert(), WarpWithoutWords(), [[5], [6]], 2)


def test_warp_in_bitfit_trains_encoder_biases_and_the_class_embeddings_not_the_mlm_head(tiny_bert_dir, tiny_task_dir):
    run = _build(tiny_bert_dir, tiny_task_dir, "bitfit", {"readout": "warp"})
    trained = {name for name, p in run.model.named_parameters() if p.requires_grad}
    assert {"mode.head.class_embeddings", "mode.head.class_bias"} <= trained
    assert not any(name.startswith("backbone.cls") for name in trained)


@pytest.mark.parametrize("mode", ["bitfit", "lora", "adapter"])
def test_warp_keeps_the_pattern_where_cls_reads_the_bare_text(mode):
    from promptlearn.prompt.pattern import Pattern

    pattern = Pattern.parse("{text} it was [MASK] .")
    assert get_mode(mode).from_options({"readout": "warp"}).adapt_pattern(pattern) == pattern


def test_lora_refuses_to_merge_a_warp_run(tiny_bert_dir, tiny_task_dir):
    run = _build(tiny_bert_dir, tiny_task_dir, "lora", {"readout": "warp"})
    with pytest.raises(PromptlearnError, match="readout=warp has a head of its own"):
        run.model.mode.merged_backbone(run.model)


def test_the_cli_refuses_warp_with_multi_token_words_with_one_error(tiny_bert_dir, tiny_task_dir, tmp_path):
    from typer.testing import CliRunner

    from promptlearn.cli import app

    args = ["train", "--model", str(tiny_bert_dir), "--data", str(tiny_task_dir), "--pattern", "{text} it was [MASK] ."]
    words = ["--verbalizer", "positive=unbelievable,negative=terrible", "--mode", "soft_prompt"]
    result = CliRunner().invoke(app, [*args, *words, "--mode-opt", "readout=warp", "--output", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "Error: readout=warp needs one-token label words" in result.output
    assert "Traceback" not in result.output
