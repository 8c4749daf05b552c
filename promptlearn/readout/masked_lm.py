"""MaskedLM: what a mode works on — the backbone, its tokenizer, embeddings, encoder and label-word scores.

Modes receive a :class:`MaskedLM` (the :class:`~promptlearn.model.prompt_model.PromptModel` is one), so the
imports run one way: ``model`` -> ``modes`` -> ``lm``, and no mode imports the model.
"""

from __future__ import annotations

import torch
from torch import nn

from promptlearn.errors import PromptlearnError
from promptlearn.readout.cloze import ClozeScorer
from promptlearn.readout.label_words import LabelWords
from promptlearn.tasks.multiple_choice import choice_scores, group_choices


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
        #: a head's outputs: one per label, but one score for a regression head (the task shape says)
        self.head_outputs = num_labels
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

    def sparse_embedding_grads(self) -> None:
        """Give the word embeddings' lookups (the input's, and the tied decoder's label-word rows) sparse
        gradients: only the rows a batch touches (:mod:`promptlearn.training.sparse_grads` makes them dense)."""
        self.word_embeddings.sparse = True
        if self._cloze is not None:
            self._cloze.sparse_rows = True

    def score_with(self, scorer: ClozeScorer) -> None:
        """Score label words through ``scorer`` once it is checked against the model's own logits."""
        tokens = self.label_words.table[self.label_words.valid].unique()
        scorer.verify(tokens)
        self._cloze = scorer

    def score_choices_with(self, scorer: ClozeScorer) -> None:
        """Score multiple-choice answers (no label words: any token may be a choice's) through ``scorer``,
        checked against the model's own logits on a probe of the first vocabulary ids."""
        scorer.verify(torch.arange(min(8, self.backbone.config.vocab_size), device=self.backbone.device))
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

    def choice_scores(self, hidden: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Hidden states (N, T, H) of every (example, choice) input -> choice scores (B, C), -inf where an
        example has fewer than C choices (:mod:`promptlearn.tasks.multiple_choice`).

        Row n holds ``batch["choice_valid"][n].sum()`` masks from its ``mask_positions``; the batch reads
        M = ``choice_tokens.size(1)`` positions from each (clamped into the row: a shorter choice's extra
        positions are read and then ignored).
        """
        if self._cloze is None:  # a head (readout=warp, cls) owns the scores: it has no word to read a choice with
            raise PromptlearnError(
                "A multiple-choice run reads each choice's words at [MASK], but this mode's readout is a head: "
                "use readout=cloze (or a mode without one, such as pet or mlm_head)."
            )
        tokens = batch["choice_tokens"]  # (N, M)
        rows = torch.arange(hidden.size(0), device=hidden.device)
        steps = torch.arange(tokens.size(1), device=hidden.device)
        positions = (batch["mask_positions"][:, None] + steps).clamp(max=hidden.size(1) - 1)  # (N, M)
        logits = self._cloze.vocabulary_logits(hidden[rows[:, None], positions])  # (N, M, V)
        flat = choice_scores(torch.log_softmax(logits.float(), dim=-1), tokens, batch["choice_valid"], self.word_score)
        return group_choices(flat, batch["choice_counts"], self.num_labels)
