"""MaskedLM: what a mode works on — the backbone, its tokenizer, embeddings, encoder and label-word scores.

Modes receive a :class:`MaskedLM` (the :class:`~promptlearn.model.prompt_model.PromptModel` is one), so the
imports run one way: ``model`` -> ``modes`` -> ``lm``, and no mode imports the model.
"""

from __future__ import annotations

import torch
from torch import nn

from promptlearn.readout.cloze import ClozeScorer
from promptlearn.readout.label_words import LabelWords


class MaskedLM(nn.Module):
    """A masked LM with its tokenizer and (for cloze readouts) the verbalizer's :class:`LabelWords`.

    ``label_words``: for each class, its words, each an id or a list of token ids (multi-token
    words); empty for a classification head. For multi-token words (:mod:`promptlearn.readout.label_words`):
    ``decoding`` at evaluation, 'one-pass', 'exact' (left to right) or 'confident'; ``word_score``,
    'mean' or 'sum' of a word's token log-probabilities; ``word_masks`` at evaluation, 'longest' (every
    word at the longest word's masks) or 'own'. The scorer is made by :meth:`score_with`.
    """

    def __init__(self, backbone: nn.Module, label_words: list[list], num_labels: int, tokenizer=None):
        super().__init__()
        self.backbone = backbone
        self.tokenizer = tokenizer
        self.num_labels = num_labels
        self.decoding = "one-pass"
        self.word_score = "mean"
        self.word_masks = "longest"
        words = [[[w] if isinstance(w, int) else list(w) for w in ws] for ws in label_words]
        self.label_words = LabelWords(words, num_labels) if any(words) else None
        self._cloze: ClozeScorer | None = None

    @property
    def encoder(self) -> nn.Module:
        """The transformer without its MLM head (e.g. ``BertModel``)."""
        return self.backbone.base_model

    @property
    def word_embeddings(self) -> nn.Embedding:
        return self.backbone.get_input_embeddings()

    @property
    def hidden_size(self) -> int:
        """Width H of the hidden states (what heads and prefixes see)."""
        return self.backbone.config.hidden_size

    @property
    def embedding_size(self) -> int:
        """Width E of the word embeddings (what prompts are): H, except on ALBERT and ELECTRA."""
        return self.word_embeddings.embedding_dim

    @property
    def mask_count(self) -> int:
        """Consecutive masks the pattern's [MASK] becomes: the longest label word's token count (1 without words)."""
        return self.label_words.mask_count if self.label_words is not None else 1

    def score_with(self, scorer: ClozeScorer) -> None:
        """Score label words through ``scorer`` once it is checked against the model's own logits."""
        tokens = self.label_words.table[self.label_words.valid].unique()
        scorer.verify(tokens)
        self._cloze = scorer

    def hidden_states(self, batch: dict[str, torch.Tensor], every_row: bool = False) -> torch.Tensor:
        """The encoder's last hidden states (B, T, H) for a collated batch.

        ``every_row``: every position's state is read, so none may be skipped (the mask-only last layer).
        """
        raise NotImplementedError

    def mlm_loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The masked-LM loss of a batch of masked texts (:class:`~promptlearn.training.aux_mlm.MlmBatches`).

        The batch is embedded and encoded through the mode, like a training batch, so the MLM
        gradient reaches what the mode trains (a soft prompt, deep prefixes), not only the backbone.
        Equal to the backbone's own ``labels=`` loss for a mode that adds nothing, but the head runs
        at the read positions only (about 15 % of the tokens) instead of projecting every position.
        """
        hidden = self.hidden_states(batch, every_row=True)  # (B, T, H)
        read = batch["labels"] != -100  # (B, T)
        logits = self.vocabulary_logits(hidden[read])  # (N, V)
        return nn.functional.cross_entropy(logits.float(), batch["labels"][read])

    def vocabulary_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """The MLM head's logits over the whole vocabulary (N, V) for hidden states (N, H) (cloze readouts)."""
        return self._cloze.vocabulary_logits(hidden)

    def cloze_scores(self, hidden: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Hidden states (B, T, H) -> class scores (B, C) from the label words at the masks.

        Multi-token words are scored in one pass, or outside training (``decoding`` 'exact' or
        'confident', ``word_masks='own'``) by filling masks, with one more encoder pass per extra token.
        """
        words = self.label_words
        decoded = self.decoding != "one-pass" or self.word_masks == "own"
        if decoded and not self.training and words.mask_count > 1:
            own = self.word_masks == "own"
            return words.decode(self._cloze, hidden, batch, self.hidden_states, self.decoding, self.word_score, own)
        return words.scores(self._cloze, hidden, batch["mask_positions"], self.word_score)
