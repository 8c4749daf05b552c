"""LabelWords: the verbalizer's token table, and class scores from the hidden states at the masks.

W label words, each of up to M tokens, each owned by one of C labels. A pattern's ``[MASK]`` is M
consecutive masks (:class:`~promptlearn.prompt.pvp.PVP`); token m of a word is read at mask m.

- Every word one token (M = 1): a word's score is its **logit** at the mask, as it always was.
  A logit and the log-probability differ by the mask's log-normaliser, the same for every word,
  so class probabilities, losses and predictions are those of log-probabilities: only the
  label-word rows of the decoder are computed (:class:`~promptlearn.readout.cloze.ClozeScorer`).
- Some word several tokens (M > 1): a word's score is the **mean** (``word_score='mean'``, the
  default) or the **sum** (``'sum'``, PET's) of its tokens' log-probabilities at their masks. Here
  the normalisers differ between masks, so they are computed over the whole vocabulary, at the M
  masks only. Training always predicts every mask in one forward pass.
- At evaluation, :meth:`LabelWords.decode` offers PET's other decoders: tokens filled in left to
  right (``'exact'``) or the most confident open mask first (``'confident'``, PET's default), one
  extra forward pass per token after the first; and (``own_masks``) each word read in an input
  with as many masks as it has tokens, as PET does, instead of the longest word's M.

A label's score is the mean of its words' scores. Everything is vectorised over the batch and the
words (a (W, M) token table with a validity mask); there is no loop over examples.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from promptlearn.readout.cloze import ClozeScorer

#: how a multi-token word's token log-probabilities become its score
WORD_SCORES = ("mean", "sum")
#: the order in which :meth:`LabelWords.decode` fills a word's masks (one-pass: none filled)
ORDERS = ("one-pass", "exact", "confident")


class LabelWords(nn.Module):
    """``words``: for each label, its words as token-id lists (``[[[5], [35, 36]], [[6]]]``).

    Buffers (not parameters, so no optimizer sees them): ``table`` (W, M) token ids (0 where a word
    is shorter), ``valid`` (W, M), ``word_label`` (W,), ``word_length`` (W,), ``words_per_label`` (C,).
    """

    def __init__(self, words: list[list[list[int]]], num_labels: int):
        super().__init__()
        flat = [list(tokens) for label_words in words for tokens in label_words]
        self.mask_count = max(len(tokens) for tokens in flat)
        table = torch.zeros(len(flat), self.mask_count, dtype=torch.long)
        valid = torch.zeros(len(flat), self.mask_count, dtype=torch.bool)
        for row, tokens in enumerate(flat):
            table[row, : len(tokens)] = torch.tensor(tokens)
            valid[row, : len(tokens)] = True
        owner = torch.tensor([label for label, label_words in enumerate(words) for _ in label_words])
        self.num_labels = num_labels
        self.register_buffer("table", table, persistent=False)
        self.register_buffer("valid", valid, persistent=False)
        self.register_buffer("word_label", owner, persistent=False)
        self.register_buffer("word_length", valid.sum(dim=1), persistent=False)
        counts = torch.bincount(owner, minlength=num_labels).clamp(min=1).float()
        self.register_buffer("words_per_label", counts, persistent=False)

    def per_label(self, word_scores: torch.Tensor) -> torch.Tensor:
        """Word scores (B, W) -> class scores (B, C): the mean over each label's words."""
        if torch.onnx.is_in_onnx_export():  # index_add_ exports as a scatter that keeps one of repeated labels
            share = nn.functional.one_hot(self.word_label, self.num_labels).to(word_scores.dtype)  # (W, C)
            return word_scores @ (share / self.words_per_label.to(word_scores.dtype))
        summed = word_scores.new_zeros(word_scores.size(0), self.num_labels)
        summed.index_add_(1, self.word_label, word_scores)
        return summed / self.words_per_label.to(summed.dtype)

    def scores(
        self, scorer: ClozeScorer, hidden: torch.Tensor, first_mask: torch.Tensor, word_score: str = "mean"
    ) -> torch.Tensor:
        """Hidden states (B, T, H), first mask position (B,) -> class scores (B, C), one forward pass."""
        rows = torch.arange(hidden.size(0), device=hidden.device)
        if self.mask_count == 1:
            return self.per_label(scorer(hidden[rows, first_mask], self.table[:, 0]))  # logits (B, W)
        positions = first_mask[:, None] + torch.arange(self.mask_count, device=hidden.device)  # (B, M)
        log_probs = self._log_probs(scorer, hidden[rows[:, None], positions])  # (B, M, V)
        steps = torch.arange(self.mask_count, device=hidden.device).expand_as(self.table)  # (W, M)
        token_scores = log_probs[:, steps, self.table]  # (B, W, M): token m of word w at mask m
        words = token_scores.masked_fill(~self.valid, 0.0).sum(dim=-1)  # (B, W)
        if word_score == "mean":
            words = words / self.word_length.to(token_scores.dtype)
        return self.per_label(words)  # (B, C)

    def decode(
        self,
        scorer: ClozeScorer,
        hidden: torch.Tensor,
        batch: dict[str, torch.Tensor],
        rerun: Callable[[dict[str, torch.Tensor]], torch.Tensor],
        order: str = "exact",
        word_score: str = "mean",
        own_masks: bool = False,
    ) -> torch.Tensor:
        """Class scores (B, C) at evaluation, a word's score from its tokens' log-probabilities
        (``word_score``), each token's given the tokens filled in before it (``order``).

        ``hidden`` (B, T, H) is the forward pass of ``batch`` with every mask open; ``rerun(batch)``
        gives the hidden states of a batch whose ``input_ids`` have some masks filled in. With
        ``own_masks`` a word of n < M tokens is read in ``batch`` cut to n masks (one extra pass per
        such n). The words are a loop (W is small); the batch is never one.
        """
        opened = {self.mask_count: (batch, hidden)}
        words = []
        for word, length in zip(self.table, self.word_length.tolist(), strict=True):
            count = length if own_masks else self.mask_count
            if count not in opened:
                cut = with_masks(batch, self.mask_count, count)
                opened[count] = (cut, rerun(cut))
            pieces = self._fill(scorer, word[:length], *opened[count], rerun, order)  # (B, n)
            total = pieces.sum(dim=1)
            words.append(total / length if word_score == "mean" else total)
        return self.per_label(torch.stack(words, dim=1))  # (B, C)

    def _fill(
        self,
        scorer: ClozeScorer,
        word: torch.Tensor,
        batch: dict[str, torch.Tensor],
        hidden: torch.Tensor,
        rerun: Callable[[dict[str, torch.Tensor]], torch.Tensor],
        order: str,
    ) -> torch.Tensor:
        """Log-probability (B, n) of each of the n tokens of ``word`` at its mask, the masks filled in ``order``:
        'one-pass' none, 'exact' left to right, 'confident' the open mask whose token is likeliest first
        (per example; PET's default decoding)."""
        rows = torch.arange(hidden.size(0), device=hidden.device)
        steps = torch.arange(len(word), device=hidden.device)
        positions = batch["mask_positions"][:, None] + steps  # (B, n)
        pieces = torch.zeros(len(rows), len(word), device=hidden.device)
        open_masks = torch.ones(len(rows), len(word), dtype=torch.bool, device=hidden.device)
        input_ids = batch["input_ids"].clone()
        for step in range(len(word)):
            if step:
                hidden = rerun({**batch, "input_ids": input_ids})  # (B, T, H)
            at_masks = self._log_probs(scorer, hidden[rows[:, None], positions])[:, steps, word]  # (B, n)
            if order == "one-pass":
                return at_masks
            if order == "exact":
                chosen = torch.full_like(rows, step)
            else:
                chosen = at_masks.masked_fill(~open_masks, -torch.inf).argmax(dim=1)  # (B,) first of ties, as PET
            pieces[rows, chosen] = at_masks[rows, chosen]
            open_masks[rows, chosen] = False
            input_ids[rows, positions[rows, chosen]] = word[chosen]
        return pieces

    @staticmethod
    def _log_probs(scorer: ClozeScorer, states: torch.Tensor) -> torch.Tensor:
        """Log-probabilities over the vocabulary (..., V) at hidden states (..., H)."""
        return torch.log_softmax(scorer.vocabulary_logits(states).float(), dim=-1)


def with_masks(batch: dict[str, torch.Tensor], count: int, keep: int) -> dict[str, torch.Tensor]:
    """``batch`` (whose rows hold ``count`` consecutive masks) with only the first ``keep`` of them:
    the tokens after the masks move left and every row ends in ``count - keep`` more padding
    (attention 0; its ids are left as they fall, which attention then ignores). Soft-token positions
    after the masks move with them."""
    drop = count - keep
    first = batch["mask_positions"]
    width = batch["input_ids"].size(1)
    columns = torch.arange(width, device=first.device)
    source = columns + drop * (columns >= (first + keep)[:, None])  # (B, T): where each column's token was
    inside = source < width
    source = source.clamp(max=width - 1)
    cut = dict(batch)
    for key in ("input_ids", "attention_mask", "token_type_ids"):
        if key in batch:
            cut[key] = batch[key].gather(1, source)
    cut["attention_mask"] = cut["attention_mask"].masked_fill(~inside, 0)
    if "soft_positions" in batch:
        soft = batch["soft_positions"]  # (B, S)
        cut["soft_positions"] = soft - drop * (soft >= (first + count)[:, None])
    return cut
