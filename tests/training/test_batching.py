"""Length-grouped training batches: every example once per epoch, fewer padded tokens, seeded."""

from __future__ import annotations

import random

import torch

from promptlearn.training.batching import LengthGroupedBatches


def padded_tokens(batches: list[list[int]], lengths: list[int]) -> int:
    return sum(len(b) * max(lengths[i] for i in b) for b in batches)


def test_every_example_once_per_epoch_in_as_many_batches_as_shuffling():
    lengths = [random.Random(0).randint(5, 60) for _ in range(37)]
    sampler = LengthGroupedBatches(lengths, batch_size=8, generator=torch.Generator().manual_seed(1), window=2)
    for _ in range(3):
        batches = list(sampler)
        assert len(batches) == len(sampler) == 5
        assert sorted(i for b in batches for i in b) == list(range(37))
        assert sorted(len(b) for b in batches) == [5, 8, 8, 8, 8]


def test_batches_pad_less_than_random_ones_and_epochs_differ():
    rng = random.Random(0)
    lengths = [rng.randint(5, 120) for _ in range(64)]
    sampler = LengthGroupedBatches(lengths, batch_size=8, generator=torch.Generator().manual_seed(1))
    first, second = list(sampler), list(sampler)
    order = list(range(64))
    rng.shuffle(order)
    shuffled = [order[i : i + 8] for i in range(0, 64, 8)]
    assert padded_tokens(first, lengths) < 0.8 * padded_tokens(shuffled, lengths)
    assert first != second  # a new order (and, between equal lengths, new partners) every epoch


def test_the_same_seed_gives_the_same_batches():
    lengths = list(range(20))
    runs = [list(LengthGroupedBatches(lengths, 4, torch.Generator().manual_seed(7))) for _ in range(2)]
    assert runs[0] == runs[1]
