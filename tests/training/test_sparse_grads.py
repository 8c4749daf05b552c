"""Sparse embedding gradients (--sparse-embedding-grads): the same AdamW updates as dense gradients, built
from the touched rows only."""

from __future__ import annotations

import pytest
import torch

from promptlearn import api
from promptlearn.data.examples import Example
from promptlearn.errors import PromptlearnError
from promptlearn.run.config import RunConfig
from promptlearn.training.sparse_grads import SparseToDense

WORDS = {"positive": ["great"], "negative": ["terrible"]}
TEXTS = ["the movie was fun", "the film was awful", "the plot is very boring", "loved the acting", "it was bad"]


def trained(model_dir, mode: str, sparse: bool, steps: int = 20) -> dict[str, torch.Tensor]:
    """Every parameter after ``steps`` AdamW steps of ``mode`` (weight decay on, as by default)."""
    config = RunConfig(model=str(model_dir), data="-", pattern="{text} it was [MASK] .", verbalizer=WORDS,
                       labels=list(WORDS), mode=mode, max_steps=steps, batch_size=2, warmup_ratio=0.0,
                       learning_rate=1e-2, sparse_embedding_grads=sparse)  # fmt: skip
    run = api.build(config)
    examples = [Example(t, label="positive" if i % 2 else "negative") for i, t in enumerate(TEXTS)]
    run.trainer.fit(run.pvp.encode(examples), [])
    return {name: p.detach().clone() for name, p in run.model.named_parameters()}


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["pet", "finetune"])
def test_sparse_embedding_grads_give_the_dense_adamw_weights(tiny_bert_dir, mode, monkeypatch):
    seen = []
    densify = SparseToDense.densify

    def spy(self, params):
        seen.append(any(p.grad is not None and p.grad.is_sparse for p in params))
        densify(self, params)

    dense = trained(tiny_bert_dir, mode, sparse=False)
    monkeypatch.setattr(SparseToDense, "densify", spy)
    sparse = trained(tiny_bert_dir, mode, sparse=True)
    assert seen == [True] * 20  # the embeddings' gradient really arrived sparse, every step
    assert dense.keys() == sparse.keys()
    for name in dense:
        assert torch.allclose(dense[name], sparse[name], atol=1e-6, rtol=0), name
    words = "backbone.bert.embeddings.word_embeddings.weight"
    start = trained(tiny_bert_dir, mode, sparse=False, steps=1)[words]
    # rows no batch touched still moved (AdamW's weight decay and moments): dense semantics, not SparseAdam's
    untouched = 41  # "business": in no text, no pattern, no label word
    assert not torch.equal(start[untouched], sparse[words][untouched])


def test_densify_writes_the_sum_of_touched_rows_and_clears_the_last_ones():
    weight = torch.nn.Parameter(torch.zeros(6, 2))
    to_dense = SparseToDense()
    weight.grad = torch.sparse_coo_tensor(
        [[1, 3, 1]], torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), (6, 2), check_invariants=True
    )
    to_dense.densify([weight])
    expected = torch.zeros(6, 2)
    expected[1], expected[3] = torch.tensor([6.0, 8.0]), torch.tensor([3.0, 4.0])  # row 1 summed by hand
    assert torch.equal(weight.grad, expected)
    buffer = weight.grad
    weight.grad = torch.sparse_coo_tensor([[4]], torch.tensor([[7.0, 7.0]]), (6, 2), check_invariants=True)
    to_dense.densify([weight])
    expected = torch.zeros(6, 2)
    expected[4] = 7.0
    assert weight.grad is buffer and torch.equal(weight.grad, expected)  # the same buffer, last step's rows zeroed


def test_sparse_embedding_grads_are_refused_where_the_embeddings_do_not_train(tiny_bert_dir):
    with pytest.raises(PromptlearnError, match=r"trains the word embeddings.*'head' keeps them frozen"):
        trained(tiny_bert_dir, "head", sparse=True, steps=1)
