"""Example streams for prompt pretraining: an endless shuffled training stream and a held-out sample.

Documents are split once by position (:func:`~promptlearn.ppt.corpus.is_heldout`), so held-out
examples never share a document with training examples. Both streams read the corpus lazily:
memory holds the shuffle buffer and the held-out sample, never the corpus.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from pathlib import Path

from promptlearn.data.examples import Example
from promptlearn.errors import PromptlearnError
from promptlearn.ppt.corpus import is_heldout, read_documents, shuffled
from promptlearn.ppt.formats import get_format


def training_examples(
    corpus: str | Path, format_name: str, seed: int, heldout_every: int, buffer_size: int = 2000
) -> Iterator[Example]:
    """Endless stream of training examples: pass after pass over the non-held-out documents.

    Pass ``e`` builds its examples and shuffles them with ``random.Random(seed + 1000 * e)``, so
    each pass pairs and orders sentences differently, and the stream is the same on every run.
    """
    for epoch in itertools.count():
        rng = random.Random(seed + 1000 * epoch)
        documents = (d for d in read_documents(corpus) if not is_heldout(d, heldout_every))
        produced = 0
        for example in shuffled(get_format(format_name).examples(documents, rng), buffer_size, rng):
            produced += 1
            yield example
        if produced == 0:
            raise PromptlearnError(
                f"The corpus {corpus} yields no {format_name} examples (its documents are too short or too few "
                "sentences long). Use a larger corpus or another --format."
            )


def heldout_examples(corpus: str | Path, format_name: str, seed: int, heldout_every: int, size: int) -> list[Example]:
    """A uniform sample (reservoir) of ``size`` examples built from the held-out documents only."""
    rng = random.Random(seed - 1)
    documents = (d for d in read_documents(corpus) if is_heldout(d, heldout_every))
    sample: list[Example] = []
    for seen, example in enumerate(get_format(format_name).examples(documents, rng)):
        if seen < size:
            sample.append(example)
        else:
            slot = rng.randrange(seen + 1)
            if slot < size:
                sample[slot] = example
    if not sample:
        raise PromptlearnError(
            f"The held-out documents of {corpus} (every {heldout_every}th) yield no {format_name} examples. "
            "Use a larger corpus or a smaller --heldout-every."
        )
    return sample


def batched(stream: Iterator[Example], size: int) -> Iterator[list[Example]]:
    """Consecutive lists of ``size`` examples."""
    while True:
        yield list(itertools.islice(stream, size))
