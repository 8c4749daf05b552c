"""What makes the trainer's step fast: fused AdamW and foreach clipping on CPU, best-on-dev weights
in buffers allocated once, length-grouped training batches. Timings live in docs/benchmarks.md."""

from __future__ import annotations

import itertools

import pytest
import torch

from promptlearn import api
from promptlearn.data.examples import Example
from promptlearn.run.config import RunConfig
from promptlearn.training import trainer

PATTERN = "{text} it was [MASK] ."
WORDS = {"positive": ["great"], "negative": ["terrible"]}


def build(model_dir, **changes):
    config = RunConfig(model=str(model_dir), data="-", pattern=PATTERN, verbalizer=WORDS, max_length=32,
                       batch_size=4, max_steps=4, warmup_ratio=0.0, **changes)  # fmt: skip
    run = api.build(config)
    texts = ["the movie was " + "very " * (i % 8) + "fun" for i in range(16)]
    return run, run.pvp.encode([Example(t, label="positive" if i % 2 else "negative") for i, t in enumerate(texts)])


def test_adamw_is_fused_and_clipping_uses_foreach_on_cpu(tiny_bert_dir, monkeypatch):
    calls = {"adamw": [], "clip": []}
    adamw, clip = torch.optim.AdamW, torch.nn.utils.clip_grad_norm_
    monkeypatch.setattr(torch.optim, "AdamW", lambda *a, **k: calls["adamw"].append(k) or adamw(*a, **k))
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", lambda *a, **k: calls["clip"].append(k) or clip(*a, **k))
    run, encoded = build(tiny_bert_dir)
    run.trainer.fit(encoded, [])
    assert [k["fused"] for k in calls["adamw"]] == [True]
    assert [k["foreach"] for k in calls["clip"]] == [True] * 4


def test_best_state_is_copied_into_the_same_buffers(tiny_bert_dir):
    run, _ = build(tiny_bert_dir)
    best = trainer.BestState()
    best.save(run.model)
    buffers = {name: t.data_ptr() for name, t in best.tensors.items()}
    trained = dict(run.model.named_parameters())
    with torch.no_grad():
        for name in best.tensors:
            trained[name].add_(1.0)
    best.save(run.model)
    assert {name: t.data_ptr() for name, t in best.tensors.items()} == buffers
    assert set(best.tensors) == {n for n, p in run.model.named_parameters() if p.requires_grad}
    for name, tensor in best.tensors.items():
        assert torch.equal(tensor, trained[name]) and tensor.device == trained[name].device
        assert tensor.data_ptr() != trained[name].data_ptr()


@pytest.mark.parametrize("grouped", [True, False])
def test_training_batches_are_grouped_by_length_unless_turned_off(tiny_bert_dir, grouped):
    run, encoded = build(tiny_bert_dir, group_by_length=grouped)
    seen, collate = [], run.trainer.collate

    def recording(batch):
        seen.append(sorted(len(e.input_ids) for e in batch))
        return collate(batch)

    run.trainer.collate = recording
    run.trainer.fit(encoded, [])
    assert len(seen) == 4 and all(len(b) == 4 for b in seen)
    ranges = sorted((b[0], b[-1]) for b in seen)
    disjoint = all(high <= low for (_, high), (low, _) in itertools.pairwise(ranges))
    assert disjoint == grouped  # one epoch: grouped batches hold neighbouring lengths (seeded shuffles do not)
