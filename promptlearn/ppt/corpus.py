"""Unlabeled text for prompt pretraining: stream documents, split them into sentences, shuffle a stream.

A corpus is a text file with one document per line (blank lines are skipped). It is read line by
line, so a corpus larger than memory works: memory holds one document plus the shuffle buffer.

Sentence splitting is a small regex splitter, not an NLP library. A boundary is ``.``, ``!`` or
``?`` (optionally followed by closing quotes or brackets), then whitespace, then something that
can start a sentence (a capital letter, a digit, or an opening quote or bracket). A period does
*not* end a sentence after a known abbreviation (``Mr.``, ``Inc.``, ``Jan.``), a single capital
letter (``J.``) or a dotted acronym (``U.S.``): in news text these are far more often mid-sentence
than sentence-final, and a missed split costs less than a wrong one (it only makes a longer
"sentence"). Decimals (``1.5``) never split because no whitespace follows the period.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from promptlearn.errors import PromptlearnError

ABBREVIATIONS = frozenset([
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "ft", "gen", "gov", "sen", "rep", "rev", "lt",
    "col", "capt", "sgt", "inc", "corp", "co", "ltd", "plc", "bros", "cos", "dept", "univ", "assn", "jan",
    "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "no", "nos", "vol", "pp",
    "fig", "approx", "est", "vs", "etc", "cf", "al", "e.g", "i.e"
])  # fmt: skip

_BOUNDARY = re.compile(r"[.!?][\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_LAST_WORD = re.compile(r"(\S+)$")
_ACRONYM = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]?")


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text`` in order, stripped (see the module docstring for the rule)."""
    sentences, start = [], 0
    for match in _BOUNDARY.finditer(text):
        if text[match.start()] == "." and _is_abbreviation(text[start : match.start()]):
            continue
        sentences.append(text[start : match.end()].strip())
        start = match.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return [s for s in sentences if s]


def _is_abbreviation(before_period: str) -> bool:
    """Whether the word just before a period is an abbreviation, an initial or a dotted acronym."""
    found = _LAST_WORD.search(before_period)
    if not found:
        return False
    word = found.group(1).lstrip("\"'([")
    if len(word) == 1 and word.isupper():
        return True
    return word.lower() in ABBREVIATIONS or bool(_ACRONYM.fullmatch(word + "."))


@dataclass(frozen=True)
class Document:
    """One corpus line: its 0-based ``index`` among non-blank lines and its ``sentences``."""

    index: int
    sentences: list[str]


def read_documents(path: str | Path) -> Iterator[Document]:
    """Stream the documents of a one-document-per-line file, split into sentences."""
    path = Path(path)
    if not path.is_file():
        raise PromptlearnError(f"Corpus file {path} does not exist (expected a text file, one document per line)")
    index = 0
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            line = line.strip()
            if not line:
                continue
            yield Document(index, split_sentences(line))
            index += 1
    if index == 0:
        raise PromptlearnError(f"Corpus file {path} has no text (one document per line expected)")


def is_heldout(document: Document, heldout_every: int) -> bool:
    """Every ``heldout_every``-th document is held out: spread over the whole file, never trained on."""
    return document.index % heldout_every == 0


def shuffled(stream: Iterable, buffer_size: int, rng: random.Random) -> Iterator:
    """A shuffle buffer: items of ``stream`` in a random order, holding at most ``buffer_size`` at a time.

    Deterministic given ``rng``'s state; items move at most about ``buffer_size`` places, which is
    enough to mix examples from neighbouring documents.
    """
    buffer = []
    for item in stream:
        if len(buffer) < buffer_size:
            buffer.append(item)
            continue
        slot = rng.randrange(buffer_size)
        yield buffer[slot]
        buffer[slot] = item
    rng.shuffle(buffer)
    yield from buffer
