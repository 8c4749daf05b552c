"""The three self-supervised cloze formats of PPT (Gu et al., ACL 2022), built from unlabeled documents.

Each format turns a stream of :class:`~promptlearn.ppt.corpus.Document` into labelled
:class:`~promptlearn.data.examples.Example` objects, with the pattern and label words it is read with.
Everything is deterministic given the ``random.Random`` passed in; classes are balanced by
construction (round-robin over the labels), so chance accuracy is 1 / number of labels.

- ``sentence-pair``: PPT's 3-way next-sentence task. ``(s_i, s_i+1)`` -> yes; ``(s_i, s_j)``
  from the same document with ``|i - j| >= 2`` -> maybe; ``(s_i, s)`` with ``s`` from another
  document -> no. Pattern ``{text_a} ? [MASK] , {text_b}`` (the one pair tasks use downstream).
- ``multiple-choice``: a sentence, then four numbered candidate continuations: its true next
  sentence and three sentences from other documents. The label word is the true option's number.
- ``single-sentence``: PPT labels single sentences with a sentiment classifier; we have no labels
  and no such classifier, so we use distant supervision from a small fixed lexicon of economic
  direction words, which news text is full of (``rose``, ``gained``, ``profit`` vs ``fell``,
  ``declined``, ``loss``). A sentence whose up-words outnumber its down-words is labelled
  ``good``, the reverse ``bad``; sentences with neither or a tie are skipped. The pattern is the
  downstream single-sentence one, ``{text} It was [MASK] .``, so the prompt learns to carry a
  sentence's polarity to ``[MASK]`` as sentiment and topic tasks need. The cue words stay in the
  text, as in PPT, where the pseudo-labels also come from the sentence's own wording.
"""

from __future__ import annotations

import random
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar

from promptlearn.data.examples import Example
from promptlearn.errors import PromptlearnError
from promptlearn.ppt.corpus import Document

MIN_WORDS = 4
MAX_WORDS = 48


def usable(sentences: list[str], max_words: int = MAX_WORDS) -> list[str]:
    """Sentences with at least ``MIN_WORDS`` words, cut to ``max_words`` words (keeps patterns in budget)."""
    kept = []
    for sentence in sentences:
        words = sentence.split()
        if len(words) >= MIN_WORDS:
            kept.append(" ".join(words[:max_words]))
    return kept


class SentencePool:
    """A bounded ring of sentences from *earlier* documents, to draw 'other document' sentences from."""

    def __init__(self, size: int = 2000):
        self.size = size
        self.items: list[str] = []
        self._next = 0

    def add(self, sentences: list[str]) -> None:
        for sentence in sentences:
            if len(self.items) < self.size:
                self.items.append(sentence)
            else:
                self.items[self._next] = sentence
                self._next = (self._next + 1) % self.size

    def draw(self, rng: random.Random, count: int = 1) -> list[str]:
        return rng.sample(self.items, count)


@dataclass
class PretrainFormat:
    """A self-supervised format: its pattern, label words and the example builder."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    pattern: ClassVar[str] = ""
    verbalizer: ClassVar[dict[str, list[str]]] = {}
    _turn: int = field(default=0, init=False)

    @property
    def labels(self) -> list[str]:
        return list(self.verbalizer)

    def examples(self, documents: Iterable[Document], rng: random.Random) -> Iterator[Example]:
        """Labelled examples built from ``documents``, in stream order."""
        raise NotImplementedError

    def _wanted(self) -> str:
        """The next label in round-robin order (keeps the classes balanced)."""
        return self.labels[self._turn % len(self.labels)]

    def _emitted(self) -> None:
        self._turn += 1


class SentencePairFormat(PretrainFormat):
    name = "sentence-pair"
    summary = (
        "3-way next-sentence task: two sentences that are adjacent -> yes, from the same document "
        "but not adjacent -> maybe, from different documents -> no. Pattern '{text_a} ? [MASK] , {text_b}'."
    )
    pattern = "{text_a} ? [MASK] , {text_b}"
    verbalizer: ClassVar[dict[str, list[str]]] = {
        "adjacent": ["yes"],
        "same_document": ["maybe"],
        "other_document": ["no"],
    }

    def examples(self, documents: Iterable[Document], rng: random.Random) -> Iterator[Example]:
        pool = SentencePool()
        for document in documents:
            sentences = usable(document.sentences)
            for i in range(len(sentences) - 1):
                wanted = self._wanted()
                if wanted == "adjacent":
                    other = sentences[i + 1]
                elif wanted == "same_document":
                    far = [j for j in range(len(sentences)) if abs(j - i) >= 2]
                    if not far:
                        continue
                    other = sentences[rng.choice(far)]
                else:
                    if not pool.items:
                        continue
                    other = pool.draw(rng)[0]
                self._emitted()
                yield Example(sentences[i], other, wanted)
            pool.add(sentences)


class MultipleChoiceFormat(PretrainFormat):
    name = "multiple-choice"
    summary = (
        "A sentence and four numbered candidate continuations (its true next sentence and three from "
        "other documents); the label word is the true option's number (1-4)."
    )
    pattern = "{text_a} Which comes next ? {text_b} Answer : [MASK] ."
    verbalizer: ClassVar[dict[str, list[str]]] = {"1": ["1"], "2": ["2"], "3": ["3"], "4": ["4"]}
    option_words: ClassVar[int] = 14

    def examples(self, documents: Iterable[Document], rng: random.Random) -> Iterator[Example]:
        pool = SentencePool()
        for document in documents:
            sentences = usable(document.sentences, max_words=32)
            for i in range(len(sentences) - 1):
                if len(pool.items) < 3:
                    break
                wanted = self._wanted()
                options = pool.draw(rng, 3)
                options.insert(self.labels.index(wanted), sentences[i + 1])
                rendered = " ".join(
                    f"( {n} ) {' '.join(option.split()[: self.option_words])}" for n, option in enumerate(options, 1)
                )
                self._emitted()
                yield Example(sentences[i], rendered, wanted)
            pool.add(sentences)


UP_WORDS = frozenset([
    "rise", "rises", "rising", "rose", "risen", "gain", "gains", "gained", "increase", "increases",
    "increased", "higher", "surge", "surged", "jump", "jumped", "climb", "climbed", "grew", "growth",
    "improve", "improved", "improvement", "strong", "stronger", "strengthened", "record", "profit", "profits",
    "recovery", "rebound", "rebounded", "boost", "boosted", "advance", "advanced"
])  # fmt: skip
DOWN_WORDS = frozenset([
    "fall", "falls", "falling", "fell", "fallen", "drop", "drops", "dropped", "decline", "declines",
    "declined", "lower", "plunge", "plunged", "slump", "slumped", "tumble", "tumbled", "decrease",
    "decreased", "loss", "losses", "weak", "weaker", "weakened", "deficit", "cut", "cuts", "shrank",
    "contraction", "slowdown", "recession"
])  # fmt: skip
_WORD = re.compile(r"[a-z]+")


def direction(sentence: str) -> str | None:
    """'positive' if up-words outnumber down-words in ``sentence``, 'negative' for the reverse, else None."""
    words = _WORD.findall(sentence.lower())
    score = sum(w in UP_WORDS for w in words) - sum(w in DOWN_WORDS for w in words)
    return "positive" if score > 0 else "negative" if score < 0 else None


class SingleSentenceFormat(PretrainFormat):
    name = "single-sentence"
    summary = (
        "Single-sentence cloze with lexicon labels (no human labels): a sentence with more economic "
        "up-words (rose, gained, profit...) than down-words (fell, declined, loss...) -> good, the "
        "reverse -> bad, others skipped. Pattern '{text} It was [MASK] .'."
    )
    pattern = "{text} It was [MASK] ."
    verbalizer: ClassVar[dict[str, list[str]]] = {"positive": ["good"], "negative": ["bad"]}
    queue_size: ClassVar[int] = 1000

    def examples(self, documents: Iterable[Document], rng: random.Random) -> Iterator[Example]:
        waiting = {label: deque(maxlen=self.queue_size) for label in self.labels}
        for document in documents:
            for sentence in usable(document.sentences):
                label = direction(sentence)
                if label is not None:
                    waiting[label].append(sentence)
                while waiting[self._wanted()]:
                    wanted = self._wanted()
                    self._emitted()
                    yield Example(waiting[wanted].popleft(), None, wanted)


FORMATS: dict[str, type[PretrainFormat]] = {
    cls.name: cls for cls in (SentencePairFormat, MultipleChoiceFormat, SingleSentenceFormat)
}


def get_format(name: str) -> PretrainFormat:
    """A fresh builder for format ``name``."""
    if name not in FORMATS:
        raise PromptlearnError(f"Unknown pretraining format {name!r}; choose one of: {', '.join(FORMATS)}")
    return FORMATS[name]()
