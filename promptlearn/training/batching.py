"""Training batches of similar lengths, so that padding each batch to its longest pads little.

:class:`LengthGroupedBatches` is a batch sampler: every epoch it draws a fresh random order of
all examples (from a seeded generator, so runs repeat exactly), cuts it into windows of
``window`` batches, sorts each window by length and cuts it into batches, then shuffles the
batches. Every example is seen once per epoch, and an epoch has as many batches as plain
shuffling gives; what changes is which examples share a batch (neighbours in length, within a
random window) and the order of the batches. On a few-shot set the whole set is one window.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

#: batches per window: HF's ``group_by_length`` sorts windows of 50 batches too
WINDOW = 50


class LengthGroupedBatches(Sampler[list[int]]):
    """Index batches of ``batch_size`` (the last one may be short) grouped by ``lengths``."""

    def __init__(self, lengths: Sequence[int], batch_size: int, generator: torch.Generator, window: int = WINDOW):
        super().__init__()
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.generator = generator
        self.window = window

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        order = torch.randperm(len(self.lengths), generator=self.generator).tolist()
        span = self.batch_size * self.window
        batches = []
        for start in range(0, len(order), span):
            # a stable sort: examples of equal length keep their random order
            chunk = sorted(order[start : start + span], key=lambda i: self.lengths[i], reverse=True)
            batches += [chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        for index in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[index]
