"""The label-word search itself: which vocabulary words should stand for each label at ``[MASK]``.

(The run-level feature that runs it inside a run's own train/dev split is :mod:`promptlearn.run.label_search`.)

1. Candidates (LM-BFF, Gao et al. 2021): per label, the ``top_k`` words with the highest summed
   log-probability at the mask over that label's training examples.
2. Ranking (PETAL, Schick et al. 2020): a candidate's likelihood ratio for its label, the mean
   log-probability of the word on the label's training examples minus that on the other labels'.
   A word that is likely everywhere (``the``) ranks low; one that tells the label apart ranks high.
3. Choice: starting from every label's best-ranked candidate, coordinate ascent over the labels
   picks, for one label at a time, the candidate with the best zero-shot accuracy on dev (then
   macro-F1, then train accuracy), until nothing changes. ``words_per_label`` > 1 then adds, per
   label, the candidates that keep dev accuracy highest (a label's score is the mean of its words').

The model reads train twice (summed full-vocabulary log-probabilities per label, then the
candidates' log-probabilities) and dev once; memory stays O(labels x vocabulary) whatever the
number of examples. Test is never read (the caller passes train and dev).
Candidates are single tokens, not special, alphabetic, and re-tokenize to themselves where the
pattern puts them (multi-token label words are not supported by the cloze readout yet).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from promptlearn.data.examples import Example
from promptlearn.errors import PromptlearnError
from promptlearn.prompt.pvp import PVP
from promptlearn.prompt.verbalizer import Verbalizer
from promptlearn.readout.cloze import ClozeScorer
from promptlearn.run.search_options import SearchOptions
from promptlearn.training.metrics import classification_metrics

ROUNDS = 3


@dataclass(frozen=True)
class SearchResult:
    """The chosen verbalizer, its zero-shot dev/train accuracy, and each label's ranked candidates."""

    verbalizer: Verbalizer
    dev_accuracy: float
    train_accuracy: float
    candidates: dict[str, list[str]]

    def report(self) -> dict:
        return {
            "dev_accuracy": round(self.dev_accuracy, 4),
            "train_accuracy": round(self.train_accuracy, 4),
            "candidates": self.candidates,
        }


@torch.no_grad()
def mask_log_probs(
    backbone: torch.nn.Module, pvp: PVP, examples: list[Example], batch_size: int = 32
) -> Iterator[torch.Tensor]:
    """Full-vocabulary log-probabilities at the mask, one (B, V) batch at a time (eval mode, in order)."""
    was_training = backbone.training
    backbone.eval()
    scorer = ClozeScorer(backbone)
    vocab = torch.arange(backbone.get_output_embeddings().weight.shape[0])
    segments = "token_type_ids" in inspect.signature(backbone.base_model.forward).parameters
    segments = segments and getattr(backbone.config, "type_vocab_size", 0) > 1
    encoded = pvp.encode(examples)
    try:
        for start in range(0, len(encoded), batch_size):
            batch = pvp.collate(encoded[start : start + batch_size])
            extra = {"token_type_ids": batch["token_type_ids"]} if segments else {}
            hidden = backbone.base_model(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], **extra
            ).last_hidden_state  # (B, T, H)
            at_mask = hidden[torch.arange(hidden.size(0)), batch["mask_positions"]]  # (B, H)
            yield torch.log_softmax(scorer(at_mask, vocab).float(), dim=-1)  # (B, V)
    finally:
        backbone.train(was_training)


def label_sums(batches: Iterator[torch.Tensor], gold: np.ndarray, num_labels: int) -> np.ndarray:
    """Summed log-probabilities (C, V) over each label's examples; memory O(C x V), not O(N x V)."""
    sums, row = None, 0
    for batch in batches:
        onehot = torch.nn.functional.one_hot(torch.as_tensor(gold[row : row + len(batch)]), num_labels)
        part = onehot.T.to(batch.dtype) @ batch  # (C, V)
        sums = part if sums is None else sums + part
        row += len(batch)
    return sums.double().numpy()


def candidate_ids(tokenizer, after_space: bool) -> np.ndarray:
    """Vocabulary ids usable as one-token label words (bool mask (V,)): alphabetic, not special, round-trip."""
    size = len(tokenizer)
    words = [tokenizer.decode([i]).strip() for i in range(size)]
    special = set(tokenizer.all_special_ids)
    lead = " " if after_space else ""
    tokenized = tokenizer([lead + (w or "x") for w in words], add_special_tokens=False)["input_ids"]
    return np.array(
        [i not in special and words[i].isalpha() and tokenized[i] == [i] for i in range(size)],
        dtype=bool,
    )


def lm_bff_candidates(sums: np.ndarray, valid: np.ndarray, top_k: int) -> np.ndarray:
    """Per label, the ``top_k`` valid ids by summed log-probability over that label's examples: (C, k)."""
    return np.stack([np.argsort(-np.where(valid, row, -np.inf), kind="stable")[:top_k] for row in sums])


def likelihood_ratio(sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """PETAL's score (C, V): mean log-probability on the label's examples minus on the others'.

    ``sums`` (C, V) from :func:`label_sums`, ``counts`` (C,) examples per label.
    """
    others = counts.sum() - counts  # with one label there are no others: their mean counts as 0
    rest = (sums.sum(axis=0, keepdims=True) - sums) / np.clip(others, 1, None)[:, None]
    return sums / np.clip(counts, 1, None)[:, None] - rest


def _quality(log_probs: np.ndarray, gold: np.ndarray, words: list[list[int]]) -> tuple[float, float]:
    scores = np.stack([log_probs[:, ids].mean(axis=1) for ids in words], axis=1)  # (N, C)
    metrics = classification_metrics(gold, scores.argmax(axis=1), len(words))
    return metrics["accuracy"], metrics["macro_f1"]


def choose(
    dev: tuple[np.ndarray, np.ndarray],
    train: tuple[np.ndarray, np.ndarray],
    ranked: list[list[int]],
    words_per_label: int,
) -> list[list[int]]:
    """Coordinate ascent over the labels' ranked candidates (see the module docstring): columns per label.

    ``dev`` / ``train``: (log-probabilities (N, W) of the W candidate columns, gold label indices (N,)).
    """

    def key(words: list[list[int]]) -> tuple[float, float, float]:
        return (*_quality(*dev, words), _quality(*train, words)[0])

    chosen = [[candidates[0]] for candidates in ranked]
    for _ in range(ROUNDS):
        changed = False
        for label, candidates in enumerate(ranked):
            taken = {w for other, ids in enumerate(chosen) if other != label for w in ids}
            best, best_key = chosen[label], key(chosen)
            for word in candidates:
                if word in taken or [word] == chosen[label]:
                    continue
                trial = [*chosen[:label], [word], *chosen[label + 1 :]]
                if key(trial) > best_key:
                    best, best_key = [word], key(trial)
            changed |= best != chosen[label]
            chosen[label] = best
        if not changed:
            break
    for _ in range(words_per_label - 1):
        for label, candidates in enumerate(ranked):
            taken = {w for ids in chosen for w in ids}
            options = [w for w in candidates if w not in taken]
            if options:
                chosen[label] = max(
                    ([*chosen[label], w] for w in options),
                    key=lambda ids, label=label: key([*chosen[:label], ids, *chosen[label + 1 :]]),
                )
    return chosen


def search_verbalizer(
    backbone: torch.nn.Module,
    pvp: PVP,
    train: list[Example],
    dev: list[Example],
    top_k: int = SearchOptions.top_k,
    words_per_label: int = SearchOptions.words_per_label,
) -> SearchResult:
    """Label words for ``pvp``'s labels, from ``train`` (candidates) and ``dev`` (choice); see the module doc.

    ``pvp`` fixes the pattern and the label order (it needs no verbalizer).
    """
    if top_k < 1 or words_per_label < 1 or words_per_label > top_k:
        raise PromptlearnError(f"Need 1 <= --words-per-label ({words_per_label}) <= --top-k ({top_k})")
    labels = pvp.labels
    index = {label: i for i, label in enumerate(labels)}
    missing = sorted(set(labels) - {ex.label for ex in train})
    if missing:
        raise PromptlearnError(f"The label-word search needs training examples of every label; none of {missing}")
    train_gold = np.array([index[ex.label] for ex in train])
    sums = label_sums(mask_log_probs(backbone, pvp, train), train_gold, len(labels))
    valid = candidate_ids(pvp.tokenizer, pvp.mask_after_space)
    valid = np.pad(valid, (0, max(0, sums.shape[1] - len(valid))))[: sums.shape[1]]  # model vocab may be larger
    pool = lm_bff_candidates(sums, valid, top_k)
    counts = np.bincount(train_gold, minlength=len(labels))
    ratio = likelihood_ratio(sums, counts)
    ids = np.unique(pool)  # only the candidates' columns are kept from here on
    column = {int(i): c for c, i in enumerate(ids)}
    ranked = [sorted((column[int(i)] for i in row), key=lambda c, label=label: -ratio[label, ids[c]])
              for label, row in enumerate(pool)]  # fmt: skip
    train_lp = _columns(mask_log_probs(backbone, pvp, train), ids)
    dev_lp = _columns(mask_log_probs(backbone, pvp, dev), ids) if dev else train_lp
    dev_gold = np.array([index[ex.label] for ex in dev]) if dev else train_gold
    chosen = choose((dev_lp, dev_gold), (train_lp, train_gold), ranked, words_per_label)
    word = {c: pvp.tokenizer.decode([int(ids[c])]).strip() for c in range(len(ids))}
    words = {label: [word[c] for c in cols] for label, cols in zip(labels, chosen, strict=True)}
    verbalizer = Verbalizer.from_dict(words)
    return SearchResult(
        verbalizer=verbalizer,
        dev_accuracy=_quality(dev_lp, dev_gold, chosen)[0],
        train_accuracy=_quality(train_lp, train_gold, chosen)[0],
        candidates={label: [word[c] for c in cols[:10]] for label, cols in zip(labels, ranked, strict=True)},
    )


def _columns(batches: Iterator[torch.Tensor], ids: np.ndarray) -> np.ndarray:
    """The (N, len(ids)) columns ``ids`` of the log-probability batches."""
    index = torch.as_tensor(ids)
    return torch.cat([batch[:, index] for batch in batches]).numpy()
