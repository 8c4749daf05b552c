"""LabelWords: the verbalizer's token table, and class scores from the hidden states at the masks.

W label words, each of up to M tokens, each owned by one of C labels. A pattern's ``[MASK]`` is M
consecutive masks (:class:`~promptlearn.pvp.PVP`); token m of a word is read at mask m.

- Every word one token (M = 1): a word's score is its **logit** at the mask, as it always was.
  A logit and the log-probability differ by the mask's log-normaliser, the same for every word,
  so class probabilities, losses and predictions are those of log-probabilities: only the
  label-word rows of the decoder are computed (:class:`~promptlearn.cloze.ClozeScorer`).
- Some word several tokens (M > 1): a word's score is the **mean of its tokens' log-probabilities**
  at their masks (PET's one-pass estimate: all masks predicted in one forward pass). Here the
  normalisers differ between masks, so they are computed over the whole vocabulary, at the M masks only.
- :meth:`LabelWords.exact` is the exact alternative for evaluation (PET's left-to-right filling):
  token m is scored with tokens 0..m-1 written into their masks, one extra forward pass per token
  after the first, each over the whole batch.

A label's score is the mean of its words' scores. Everything is vectorised over the batch and the
words (a (W, M) token table with a validity mask); there is no loop over examples.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from promptlearn.cloze import ClozeScorer


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
        summed = word_scores.new_zeros(word_scores.size(0), self.num_labels)
        summed.index_add_(1, self.word_label, word_scores)
        return summed / self.words_per_label.to(summed.dtype)

    def scores(self, scorer: ClozeScorer, hidden: torch.Tensor, first_mask: torch.Tensor) -> torch.Tensor:
        """Hidden states (B, T, H), first mask position (B,) -> class scores (B, C), one forward pass."""
        rows = torch.arange(hidden.size(0), device=hidden.device)
        if self.mask_count == 1:
            return self.per_label(scorer(hidden[rows, first_mask], self.table[:, 0]))  # logits (B, W)
        positions = first_mask[:, None] + torch.arange(self.mask_count, device=hidden.device)  # (B, M)
        log_probs = self._log_probs(scorer, hidden[rows[:, None], positions])  # (B, M, V)
        steps = torch.arange(self.mask_count, device=hidden.device).expand_as(self.table)  # (W, M)
        token_scores = log_probs[:, steps, self.table]  # (B, W, M): token m of word w at mask m
        words = token_scores.masked_fill(~self.valid, 0.0).sum(dim=-1) / self.word_length.to(token_scores.dtype)
        return self.per_label(words)  # (B, C)

    def exact(
        self,
        scorer: ClozeScorer,
        hidden: torch.Tensor,
        batch: dict[str, torch.Tensor],
        rerun: Callable[[dict[str, torch.Tensor]], torch.Tensor],
    ) -> torch.Tensor:
        """Class scores (B, C) by left-to-right filling: word score = mean over m of log p(token m | tokens < m).

        ``hidden`` (B, T, H) is the forward pass with every mask open; ``rerun(batch)`` gives the
        hidden states of a batch whose ``input_ids`` have some masks filled in.
        """
        first = batch["mask_positions"]
        rows = torch.arange(hidden.size(0), device=hidden.device)
        opening = self._log_probs(scorer, hidden[rows, first])  # (B, V): token 0 of every word
        words = []
        for word, length in zip(self.table, self.word_length.tolist(), strict=True):
            total = opening[:, word[0]]
            input_ids = batch["input_ids"].clone()
            for m in range(1, length):
                input_ids[rows, first + m - 1] = word[m - 1]
                states = rerun({**batch, "input_ids": input_ids})  # (B, T, H)
                total = total + self._log_probs(scorer, states[rows, first + m])[:, word[m]]
            words.append(total / length)
        return self.per_label(torch.stack(words, dim=1))  # (B, C)

    @staticmethod
    def _log_probs(scorer: ClozeScorer, states: torch.Tensor) -> torch.Tensor:
        """Log-probabilities over the vocabulary (..., V) at hidden states (..., H)."""
        return torch.log_softmax(scorer.vocabulary_logits(states).float(), dim=-1)
