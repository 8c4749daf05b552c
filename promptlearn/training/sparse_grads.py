"""Sparse embedding gradients: the rows a batch touches, made dense in one buffer kept across steps.

Training the word embeddings (``pet``, ``finetune``), autograd builds a dense V × H gradient every step,
zero-filled, for a lookup that touched a few hundred of V rows; a decoder tied to those embeddings adds a
second one for the W label-word rows. On bert-tiny that zero-filling was 5.7 ms of a 26 ms step
(docs/benchmarks.md). With sparse lookups (``nn.Embedding(sparse=True)``, and the cloze readout's
``sparse_rows``) each path's gradient is a sparse tensor of its rows, autograd adds them sparsely, and
:class:`SparseToDense` writes their sum into a dense buffer that lives as long as the run: zeroing the
rows written last step and copying this step's.

The semantics are dense AdamW's, unchanged: the optimizer still sees a dense gradient, zero on every
row the batch did not touch, and still updates every row (weight decay and the decay of both moments
apply to untouched rows, exactly as with dense gradients). That is why this is not torch's
``SparseAdam``, which is *lazy*: it updates moments and weights of the touched rows only and has no
weight decay, so it trains a different model. The gradient values are the same sums as the dense
backward's, added in another order, so the updated weights agree with dense training to float rounding
(tests/training/test_sparse_grads.py: 1e-6 over 20 AdamW steps). A gradient that arrives dense (a path
through the whole vocabulary, e.g. the auxiliary MLM loss) makes the sum dense: still correct, nothing saved.
"""

from __future__ import annotations

import torch


class SparseToDense:
    """Dense gradients, in buffers kept across steps, for parameters whose gradient arrived sparse."""

    def __init__(self):
        self.buffers: dict[torch.Tensor, torch.Tensor] = {}
        self.rows: dict[torch.Tensor, torch.Tensor] = {}

    @torch.no_grad()
    def densify(self, params: list[torch.Tensor]) -> None:
        """Replace each sparse ``.grad`` of ``params`` by its dense form (a buffer reused step after step)."""
        for param in params:
            grad = param.grad
            if grad is None or not grad.is_sparse:
                continue
            grad = grad.coalesce()  # one entry per row: duplicates summed
            rows = grad.indices()[0]
            buffer = self.buffers.get(param)
            if buffer is None:
                buffer = self.buffers[param] = torch.zeros_like(param)
            else:
                buffer.index_fill_(0, self.rows[param], 0)  # only last step's rows can be non-zero
            buffer.index_copy_(0, rows, grad.values().to(buffer.dtype))
            self.rows[param] = rows
            param.grad = buffer
