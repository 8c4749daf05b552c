"""Corpus reading, sentence splitting and the three PPT example builders, on a tiny generated corpus."""

from __future__ import annotations

import inspect
import random
from collections import Counter

import pytest

from promptlearn.errors import PromptlearnError
from promptlearn.ppt.corpus import read_documents, split_sentences
from promptlearn.ppt.formats import FORMATS, direction, get_format
from promptlearn.ppt.stream import heldout_examples, training_examples
from tests.helpers.fixtures import write_corpus


@pytest.fixture()
def corpus(tmp_path):
    return write_corpus(tmp_path / "corpus.txt")


def tag(sentence: str) -> tuple[int, int]:
    head = sentence.split()[0]
    doc, _, sent = head[1:].partition("S")
    return int(doc), int(sent)


def test_split_sentences_keeps_abbreviations_initials_acronyms_and_decimals():
    text = 'Mr. Smith of Acme Inc. said the U.S. economy grew 1.5 pct. "It rose," he said. J. Doe agreed! Why? OK.'
    assert split_sentences(text) == [
        "Mr. Smith of Acme Inc. said the U.S. economy grew 1.5 pct.",
        '"It rose," he said.',
        "J. Doe agreed!",
        "Why?",
        "OK.",
    ]
    assert split_sentences("no boundary here") == ["no boundary here"]


def test_read_documents_streams_lines_and_skips_blank_ones(corpus):
    documents = read_documents(corpus)
    assert inspect.isgenerator(documents)  # lazy: one line in memory at a time
    first = next(documents)
    assert first.index == 0 and all(tag(s)[0] == 0 for s in first.sentences)
    assert [d.index for d in documents] == list(range(1, 40))


def test_missing_or_empty_corpus_is_a_clear_error(tmp_path):
    with pytest.raises(PromptlearnError, match="does not exist"):
        next(read_documents(tmp_path / "nope.txt"))
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(PromptlearnError, match="no text"):
        list(read_documents(tmp_path / "empty.txt"))


def test_sentence_pair_labels_follow_document_structure(corpus):
    examples = list(get_format("sentence-pair").examples(read_documents(corpus), random.Random(1)))
    counts = Counter(e.label for e in examples)
    assert set(counts) == {"adjacent", "same_document", "other_document"}
    assert max(counts.values()) - min(counts.values()) <= 1
    for e in examples:
        (da, sa), (db, sb) = tag(e.text_a), tag(e.text_b)
        if e.label == "adjacent":
            assert (da, sb) == (db, sa + 1)
        elif e.label == "same_document":
            assert da == db and abs(sa - sb) >= 2
        else:
            assert da != db


def test_multiple_choice_marks_the_true_continuation(corpus):
    examples = list(get_format("multiple-choice").examples(read_documents(corpus), random.Random(1)))
    assert len(examples) > 20
    assert Counter(e.label for e in examples).keys() == {"1", "2", "3", "4"}
    for e in examples:
        doc, sent = tag(e.text_a)
        options = [part.split(")", 1)[1].strip() for part in e.text_b.split("( ")[1:]]
        assert len(options) == 4
        assert tag(options[int(e.label) - 1]) == (doc, sent + 1)
        assert all(tag(o)[0] != doc for i, o in enumerate(options) if i != int(e.label) - 1)


def test_single_sentence_uses_the_direction_lexicon_and_balances_classes(corpus):
    examples = list(get_format("single-sentence").examples(read_documents(corpus), random.Random(1)))
    counts = Counter(e.label for e in examples)
    assert counts["positive"] > 5 and abs(counts["positive"] - counts["negative"]) <= 1
    assert all(direction(e.text_a) == e.label and e.text_b is None for e in examples)
    assert direction("output rose but sales fell") is None


@pytest.mark.parametrize("name", list(FORMATS))
def test_streams_are_deterministic_and_heldout_documents_are_never_trained_on(corpus, name):
    def first(seed):
        stream = training_examples(corpus, name, seed=seed, heldout_every=5, buffer_size=8)
        return [next(stream) for _ in range(30)]  # more than one pass for small formats

    assert first(3) == first(3)
    heldout = heldout_examples(corpus, name, seed=3, heldout_every=5, size=10)
    assert heldout == heldout_examples(corpus, name, seed=3, heldout_every=5, size=10)
    assert all(tag(e.text_a)[0] % 5 == 0 for e in heldout)
    assert all(tag(e.text_a)[0] % 5 != 0 for e in first(3))


def test_unknown_format_is_a_clear_error():
    with pytest.raises(PromptlearnError, match="sentence-pair"):
        get_format("next-word")
