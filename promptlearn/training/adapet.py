"""ADAPET's objective (Tam et al. 2021, "Improving and Simplifying Pattern Exploiting Training").

It replaces PET's cross-entropy over the label words by two losses read from the MLM head's full vocabulary:

- the **decoupled label loss** (:func:`decoupled_label_loss`): each label is a binary decision on p(label), its
  words' probability at [MASK] under the softmax over the whole vocabulary, pushed up for the gold label and
  down for every other one, so the other labels' words must lose mass to *all* tokens, not only to the gold's;
- the **label-conditioned MLM loss** (:func:`label_conditioned_mlm_loss`): a label, drawn uniformly, fills the
  mask, and a random fraction of the other tokens is masked; the model must reconstruct them with high
  probability when the label is the gold one and low probability when it is not (:meth:`Adapet.corrupt`).

``loss = decoupled + mlm_weight * label-conditioned MLM`` (the paper adds them). Both are binary cross-entropies
averaged as the authors' code does (rrmenon10/ADAPET: ``BCELoss`` with mean reduction), the decoupled one over
the B x C label decisions, the MLM one over the masked tokens of the batch. Prediction is unchanged: the label
words' scores at [MASK], whose argmax is that of p(label) for one word per label.
"""

from __future__ import annotations

import torch
from torch import nn

#: the paper's alpha: a row masks ``max(floor(u * alpha * L), 2) - 1`` of its L tokens, u ~ U(0, 1)
MASK_RATIO = 0.105


def label_probabilities(log_probs: torch.Tensor, words: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """log_probs (B, V) over the vocabulary, words (C, W) token ids, valid (C, W) -> p(label) (B, C), the
    summed probability of the label's words."""
    probs = log_probs.exp()[:, words]  # (B, C, W)
    return (probs * valid).sum(dim=-1)


def decoupled_label_loss(label_probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """p(label) (B, C), gold labels (B,) -> mean over the B x C decisions of
    ``-log p(y*)`` for the gold label and ``-log(1 - p(y))`` for every other one."""
    targets = nn.functional.one_hot(labels, label_probs.shape[1]).to(label_probs.dtype)
    return nn.functional.binary_cross_entropy(label_probs, targets)


def label_conditioned_mlm_loss(token_probs: torch.Tensor, correct: torch.Tensor) -> torch.Tensor:
    """token_probs (N,): each masked token's probability of its original token; correct (N,): whether its input
    was filled with the gold label -> mean binary cross-entropy, target 1 when correct and 0 when not."""
    return nn.functional.binary_cross_entropy(token_probs, correct.to(token_probs.dtype))


class Adapet:
    """ADAPET's training loss of a batch (the module docstring); holds no parameters.

    ``words`` (C, W) / ``valid`` (C, W): every label's single-token words, padded; ``fill`` (C,): the word
    that fills the mask when a label is drawn (its first); ``protected``: token ids never masked (special tokens);
    ``mask_token_id``: the tokenizer's mask; ``seed`` seeds the draws.
    """

    def __init__(
        self,
        words: torch.Tensor,
        valid: torch.Tensor,
        fill: torch.Tensor,
        protected: list[int],
        mask_token_id: int,
        mask_ratio: float = MASK_RATIO,
        mlm_weight: float = 1.0,
        seed: int = 0,
    ):
        self.words, self.valid, self.fill = words, valid, fill
        self.protected = torch.tensor(sorted(set(protected)))
        self.mask_token_id = mask_token_id
        self.mask_ratio = mask_ratio
        self.mlm_weight = mlm_weight
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        device = batch["input_ids"].device
        hidden = model.hidden_states(batch)  # (B, T, H)
        rows = hidden[torch.arange(len(hidden), device=device), batch["mask_positions"]]  # (B, H)
        log_probs = torch.log_softmax(model.vocabulary_logits(rows).float(), dim=-1)  # (B, V)
        words, valid = self.words.to(device), self.valid.to(device)
        loss = decoupled_label_loss(label_probabilities(log_probs, words, valid), batch["labels"])
        if not self.mlm_weight:
            return loss
        originals, corrupted, masked, correct = self.corrupt(batch)
        hidden = model.hidden_states(batch | {"input_ids": corrupted}, every_row=True)  # (B, T, H)
        log_probs = torch.log_softmax(model.vocabulary_logits(hidden[masked]).float(), dim=-1)  # (N, V)
        token_probs = log_probs.gather(1, originals[masked][:, None]).squeeze(1).exp()  # (N,)
        correct = correct[:, None].expand_as(masked)[masked]  # (N,): each masked token's row
        return loss + self.mlm_weight * label_conditioned_mlm_loss(token_probs, correct)

    def corrupt(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """The label-conditioned MLM inputs of a batch: a label drawn per row fills its mask, then
        ``max(floor(u * mask_ratio * L), 2) - 1`` of the row's L maskable tokens (not special, not soft) are masked.

        Returns the filled ids (B, T), the same with the chosen tokens masked (B, T), which tokens were masked
        (B, T) and whether each row's drawn label is its gold one (B,).
        """
        ids = batch["input_ids"]
        device, rows = ids.device, torch.arange(len(ids), device=ids.device)
        drawn = torch.randint(len(self.fill), (len(ids),), generator=self.generator).to(device)  # (B,)
        filled = ids.clone()
        filled[rows, batch["mask_positions"]] = self.fill.to(device)[drawn]
        maskable = batch["attention_mask"].bool() & ~torch.isin(filled, self.protected.to(device))  # (B, T)
        if "soft_positions" in batch:  # placeholders the mode replaces: nothing to reconstruct
            maskable[rows[:, None], batch["soft_positions"]] = False
        lengths = maskable.sum(dim=1)  # (B,)
        u = torch.rand(len(ids), generator=self.generator).to(device)
        counts = torch.minimum((u * self.mask_ratio * lengths).floor().clamp(min=2) - 1, lengths)  # (B,)
        scores = torch.rand(ids.shape, generator=self.generator).to(device).masked_fill(~maskable, 2.0)
        ranks = scores.argsort(dim=1).argsort(dim=1)  # (B, T): 0 for the row's lowest score
        masked = ranks < counts[:, None]
        return filled, filled.masked_fill(masked, self.mask_token_id), masked, drawn == batch["labels"]
