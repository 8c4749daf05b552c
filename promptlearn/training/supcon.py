"""The supervised contrastive term at [MASK] (Jian, Gao & Vosoughi, NAACL 2022): SupCon on the mask states.

Each training batch carries, under :data:`VIEWS`, a second collated batch holding :data:`VIEW_COUNT` views of
each of its B examples, view-major (rows ``v * B + i`` are example i's views): the same example under another
pattern, other demonstrations, or only other dropout noise (the run builds them,
:mod:`promptlearn.run.contrastive`). The views run through the mode like any input, their [MASK] states are
L2-normalised, and Khosla et al.'s (2020) supervised contrastive loss in its ``L_out`` form pulls together the
views of examples of one label and pushes the others apart (:func:`supcon_loss`). The objective adds it to the
task loss with a weight (:class:`~promptlearn.training.objective.Objective`).
"""

from __future__ import annotations

import torch
from torch import nn

#: the batch key that holds the collated views (a dict of tensors, ``VIEW_COUNT * B`` rows)
VIEWS = "contrastive_views"
#: views of each example in a batch: the paper's two, so every anchor has at least one positive
VIEW_COUNT = 2


def supcon_loss(features: torch.Tensor, labels: torch.Tensor, temperature: float) -> torch.Tensor:
    """Khosla et al.'s ``L_out``: features (N, V, D), L2-normalised, of V views of N examples; labels (N,).

    Every one of the N * V views is an anchor i; its positives P(i) are the other views of the same label, the
    contrast set A(i) every view but i, s(i, j) = exp(z_i . z_j / t)::

        L = 1 / (N V) * sum_i  -1 / |P(i)| * sum_{p in P(i)} log( s(i, p) / sum_{a in A(i)} s(i, a) )
    """
    n, v, _ = features.shape
    z = features.transpose(0, 1).reshape(n * v, -1)  # (NV, D), view-major
    y = labels.repeat(v)  # (NV,)
    itself = torch.eye(n * v, dtype=torch.bool, device=z.device)
    logits = (z @ z.T / temperature).masked_fill(itself, float("-inf"))  # (NV, NV): A(i) excludes i
    log_prob = logits - logits.logsumexp(dim=1, keepdim=True)
    positives = (y[:, None] == y[None, :]) & ~itself  # (NV, NV)
    mean_positive = log_prob.masked_fill(~positives, 0).sum(dim=1) / positives.sum(dim=1)  # (NV,)
    return -mean_positive.mean()


def mask_states(model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The encoder's states (B, H) at each input's mask(s), averaged over a multi-token word's masks."""
    hidden = model.hidden_states(batch)  # (B, T, H); a mask-only last layer computes the mask rows alone
    masks = batch["mask_positions"][:, None] + torch.arange(model.mask_count, device=hidden.device)  # (B, M)
    return hidden.gather(1, masks[..., None].expand(-1, -1, hidden.shape[-1])).mean(dim=1)  # (B, H)


class SupervisedContrastive:
    """``weight * L_out`` over the batch's views (:data:`VIEWS`) at ``temperature``; holds no parameters."""

    def __init__(self, weight: float, temperature: float):
        self.weight = weight
        self.temperature = temperature

    def __call__(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        views = batch[VIEWS]
        z = nn.functional.normalize(mask_states(model, views).float(), dim=-1)  # (V B, H)
        labels = batch["labels"]
        features = z.view(VIEW_COUNT, len(labels), -1).transpose(0, 1)  # (B, V, H)
        return self.weight * supcon_loss(features, labels, self.temperature)
