"""Regression as a cloze task: LM-BFF's two poles of label words (Gao et al., ACL 2021, sec. 4.2).

A score y in the declared range [v_l, v_u] is read from two label words at the mask, the lower pole
(e.g. ``no`` / ``terrible``) and the upper pole (``yes`` / ``great``). With p_u the softmax over the
two poles' scores,

- the prediction is ``v_l + (v_u - v_l) * p_u``;
- the target is the distribution ``(1 - t, t)`` with ``t = (y - v_l) / (v_u - v_l)``, the score's
  position in the range, and the loss is KL(target || (p_l, p_u)), averaged over the batch.

LM-BFF's code (``src/models.py``) passes that target to ``KLDivLoss(log_target=True)`` as
probabilities, not log-probabilities, so its loss is not the KL its paper writes; this is the KL.
Head modes predict the score with a linear head of one output trained by mean squared error.

Few-shot sampling by score bins: the range splits into ``bins`` equal-width bins and K means K
examples per bin (LM-BFF samples STS-B as two classes split at 2.5, the middle of 0-5: ``bins=2``).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import pearsonr, spearmanr
from torch import nn


def pole_targets(scores: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Gold scores (B,) -> target pole distributions (B, 2): ``(1 - t, t)``, t the position in [low, high]."""
    position = (scores.float() - low) / (high - low)
    return torch.stack([1 - position, position], dim=-1)


def pole_prediction(pole_scores: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Pole scores (B, 2), lower pole first -> predicted scores (B,): ``low + (high - low) * p(upper)``."""
    return low + (high - low) * torch.softmax(pole_scores.float(), dim=-1)[:, 1]


def pole_loss(pole_scores: torch.Tensor, scores: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """KL(target || predicted pole distribution), the batch mean: the cloze loss of regression."""
    log_probs = torch.log_softmax(pole_scores.float(), dim=-1)
    return nn.functional.kl_div(log_probs, pole_targets(scores, low, high), reduction="batchmean")


def head_loss(predicted: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """A head's predicted scores (B,) against gold (B,): mean squared error."""
    return nn.functional.mse_loss(predicted.float(), scores.float())


def regression_metrics(gold, predicted) -> dict:
    """Pearson and Spearman correlation (scipy) and mean squared error of predicted scores.

    A constant prediction (or gold) correlates with nothing: its correlations are reported as 0.0, not
    scipy's NaN, so that a collapsed model reads as one and best-on-dev selection can compare it.
    """
    gold = np.asarray(gold, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    constant = np.ptp(gold) == 0 or np.ptp(predicted) == 0
    return {
        "pearson": 0.0 if constant else float(pearsonr(gold, predicted)[0]),
        "spearman": 0.0 if constant else float(spearmanr(gold, predicted)[0]),
        "mse": float(np.mean((gold - predicted) ** 2)),
    }


def score_bin(score: float, low: float, high: float, bins: int) -> int:
    """The equal-width bin (0 .. bins - 1) of [low, high] that ``score`` falls in; ``high`` is in the last."""
    return min(int((score - low) / (high - low) * bins), bins - 1)
