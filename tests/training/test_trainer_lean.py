"""The trainer stays lean: frozen weights carry no gradients or optimizer state, are stored in the
autocast dtype under mixed precision (without changing any output), and ``compile`` is wired."""

from __future__ import annotations

import functools

import pytest
import torch

from promptlearn.backbone.loading import load_backbone, load_tokenizer
from promptlearn.data.examples import Example
from promptlearn.model.prompt_model import PromptModel
from promptlearn.modes import get_mode
from promptlearn.modes.base import Mode
from promptlearn.prompt.pattern import Pattern
from promptlearn.prompt.pvp import PVP
from promptlearn.prompt.verbalizer import Verbalizer
from promptlearn.run.config import RunConfig
from promptlearn.training.trainer import Trainer, store_frozen_linears_in
from tests.helpers.fixtures import record_optimizers

PATTERN = "{text} it was [MASK] ."
WORDS = {"positive": ["great"], "negative": ["terrible"]}
TEXTS = [("the movie was wonderful", "positive"), ("the film was awful", "negative"), ("it was fun", "positive")]


class HeadTransformOnly(Mode):
    """A frozen-backbone mode for these tests (not registered): only the MLM head's transform trains."""

    name = "head_transform_only"
    default_learning_rate = 1e-2

    def attach(self, model) -> None:
        model.backbone.cls.predictions.transform.requires_grad_(True)


def build(folder, mode: Mode, trained: bool = True, **config):
    """Model, trainer (None unless ``trained``), the encoded tiny task and the PVP."""
    tokenizer = load_tokenizer(str(folder))
    pvp = PVP(Pattern.parse(PATTERN), Verbalizer.from_dict(WORDS), tokenizer, max_length=32)
    torch.manual_seed(0)
    model = PromptModel(load_backbone(str(folder)), mode, pvp.label_token_ids, 2)
    run = RunConfig(model=str(folder), data="-", pattern=PATTERN, verbalizer=WORDS, batch_size=3, **config)
    encoded = pvp.encode([Example(text, label=label) for text, label in TEXTS])
    return model, Trainer(model, pvp.collate, run) if trained else None, encoded, pvp


def test_frozen_weights_get_no_gradients_and_no_optimizer_state(tiny_bert_dir, monkeypatch):
    optimizers = record_optimizers(monkeypatch)
    model, trainer, encoded, _ = build(tiny_bert_dir, HeadTransformOnly(), max_steps=2)
    trainer.fit(encoded, [])
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert 0 < len(trainable) < len(list(model.parameters()))
    assert all(p.grad is None for p in model.parameters() if not p.requires_grad)
    (optimizer,) = optimizers
    assert {id(p) for p in optimizer.state} == trainable
    assert {id(p) for group in optimizer.param_groups for p in group["params"]} == trainable


def test_bf16_stores_frozen_linears_in_bf16_without_changing_outputs(tiny_bert_dir):
    model, trainer, encoded, pvp = build(tiny_bert_dir, HeadTransformOnly(), precision="bf16", max_steps=2)
    reference, _, _, _ = build(tiny_bert_dir, HeadTransformOnly(), trained=False)
    query = model.backbone.bert.encoder.layer[0].attention.self.query
    assert query.weight.dtype == query.bias.dtype == torch.bfloat16
    assert model.backbone.cls.predictions.transform.dense.weight.dtype == torch.float32  # trains
    assert model.word_embeddings.weight.dtype == torch.float32  # tied to the decoder: not autocast
    assert model.backbone.bert.encoder.layer[0].attention.output.LayerNorm.weight.dtype == torch.float32

    batch = pvp.collate(encoded)
    with torch.no_grad(), trainer.accelerator.autocast():
        lean = model(batch)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        full = reference(batch)  # fp32 weights, autocast casts them on the fly
    assert torch.equal(lean, full)

    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainer.fit(encoded, [])
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all(".transform." in n for n in changed)


def test_trainable_weights_are_left_alone(tiny_bert_dir):
    model, _, _, _ = build(tiny_bert_dir, get_mode("pet")(), precision="bf16")
    assert {p.dtype for p in model.parameters()} == {torch.float32}  # everything trains


def test_fp32_leaves_frozen_weights_alone(tiny_bert_dir):
    model, _, _, _ = build(tiny_bert_dir, HeadTransformOnly(), precision="fp32")
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert store_frozen_linears_in(model, torch.float16) > 0
    assert model.backbone.bert.encoder.layer[0].output.dense.weight.dtype == torch.float16


@pytest.mark.slow
def test_compile_switch_compiles_the_forward_pass(tiny_bert_dir, monkeypatch):
    # The eager backend traces with dynamo like inductor would, without a minute of C++ codegen on CPU.
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="eager"))
    torch._dynamo.reset()
    compiled, trainer, encoded, _ = build(tiny_bert_dir, get_mode("pet")(), compile=True, max_steps=2)
    eager, eager_trainer, _, _ = build(tiny_bert_dir, get_mode("pet")(), compile=False, max_steps=2)
    assert compiled._compiled_call_impl is not None and eager._compiled_call_impl is None
    trainer.fit(encoded, [])
    eager_trainer.fit(encoded, [])
    for (name, p), q in zip(compiled.named_parameters(), eager.parameters(), strict=True):
        torch.testing.assert_close(p, q, msg=name)
    assert trainer.predict_proba(encoded) == pytest.approx(eager_trainer.predict_proba(encoded), abs=1e-6)
    assert set(compiled.state_dict()) == set(eager.state_dict())  # compiling in place keeps the names
