"""The last layer at [MASK] only: the same scores and gradients as the whole layer, used only where exact."""

from __future__ import annotations

import pytest
import torch

from promptlearn import api
from promptlearn.data.examples import Example
from promptlearn.run.config import RunConfig

PATTERN = "{text} it was [MASK] ."
WORDS = {"positive": ["great", "good"], "negative": ["terrible"]}
TEXTS = ["the movie was wonderful", "hated the film", "it was a really very boring story , not fun", "fun"]


def build(model_dir, mode: str = "pet", attention: str = "sdpa", words=WORDS, **options):
    config = RunConfig(model=str(model_dir), data="-", pattern=PATTERN, verbalizer=words, mode=mode,
                       mode_options=options, labels=list(words))  # fmt: skip
    run = api.build(config)
    run.model.backbone.config._attn_implementation = attention
    batch = run.pvp.collate(run.pvp.encode([Example(t, label="positive") for t in TEXTS]))
    assert batch["attention_mask"].min() == 0  # padded: the attention mask matters
    return run.model, batch


def no_dropout(model) -> None:
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
        if isinstance(getattr(module, "dropout", None), torch.nn.Dropout):
            module.dropout.p = 0.0


@pytest.mark.parametrize(
    ("attention", "words"),
    [("sdpa", WORDS), ("eager", WORDS), ("sdpa", {"positive": ["unbelievable", "great"], "negative": ["bad"]})],
)
def test_scores_and_gradients_match_the_whole_layer(tiny_bert_dir, attention, words):
    model, batch = build(tiny_bert_dir, attention=attention, words=words)
    assert model.mask_only
    no_dropout(model)
    results = {}
    for fast in (True, False):
        model.mask_only = fast
        model.zero_grad()
        logits = model(batch)
        torch.nn.functional.cross_entropy(logits, batch["labels"]).backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        results[fast] = logits.detach(), grads
    (fast_logits, fast_grads), (full_logits, full_grads) = results[True], results[False]
    torch.testing.assert_close(fast_logits, full_logits, atol=1e-5, rtol=1e-5)
    assert fast_grads.keys() == full_grads.keys()
    assert any("layer.1.attention.self.query" in n for n in fast_grads)  # the shortened layer still learns
    for name, grad in full_grads.items():
        torch.testing.assert_close(fast_grads[name], grad, atol=1e-5, rtol=1e-4, msg=name)


def test_the_layer_runs_whole_outside_a_cloze_forward(tiny_bert_dir):
    model, batch = build(tiny_bert_dir)
    model.eval()
    model(batch)  # sets and clears the positions
    with torch.no_grad():
        hidden = model.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        model.mask_only = False
        model(batch)
        whole = model.encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    torch.testing.assert_close(hidden, whole)


@pytest.mark.parametrize(("mode", "options"), [("head", {}), ("ptuning_v2", {})])
def test_modes_that_read_more_or_change_attention_keep_the_whole_layer(tiny_bert_dir, mode, options):
    model, _ = build(tiny_bert_dir, mode=mode, **options)
    assert not model.mask_only


def test_an_unknown_layer_layout_keeps_the_whole_layer(tiny_distilbert_dir):
    model, batch = build(tiny_distilbert_dir)
    assert not model.mask_only
    assert model(batch).shape == (4, 2)


def test_real_bert_tiny_scores_match(bert_tiny_dir):
    model, batch = build(bert_tiny_dir)
    model.eval()
    with torch.no_grad():
        fast = model(batch)
        model.mask_only = False
        full = model(batch)
    torch.testing.assert_close(fast, full, atol=1e-5, rtol=1e-5)


def test_a_bert_whose_layer_layout_is_not_recognised_says_so(caplog, monkeypatch):
    """transformers 4.56's BERT lacked what the mask-only layer reads: it then turned off without a word."""
    import logging

    from promptlearn.backbone import mask_only
    from promptlearn.model.prompt_model import PromptModel
    from promptlearn.modes import get_mode
    from tests.helpers.fixtures import tiny_bert

    monkeypatch.setattr(mask_only, "last_layer", lambda encoder: None)  # a layout it does not know
    with caplog.at_level(logging.WARNING, logger="promptlearn"):
        model = PromptModel(tiny_bert(), get_mode("pet")(), [[5], [6]], num_labels=2)
    assert not model.mask_only
    assert "the whole last layer runs" in caplog.text and "'bert'" in caplog.text


def test_other_architectures_run_the_whole_layer_without_a_warning(tiny_distilbert_dir, caplog):
    import logging

    with caplog.at_level(logging.WARNING, logger="promptlearn"):
        model, _ = build(tiny_distilbert_dir)
    assert not model.mask_only and "mask-only" not in caplog.text
