"""How multi-task batches mix: every batch holds one task's examples, its task drawn by a sampling rule.

With ``n_t`` training examples of task ``t`` and a temperature ``T``, the next batch is task ``t``'s with

    p_t = n_t^(1/T) / sum_s n_s^(1/T)

- ``proportional``: T = 1, p_t = n_t / sum_s n_s (every example seen about equally often);
- ``temperature``: T > 1 flattens the sizes towards equal (T = 2 samples by sqrt(n_t): Arivazhagan et
  al. 2019's rule for unbalanced language pairs, T5's "temperature-scaled mixing");
- ``equal``: T -> infinity, p_t = 1 / (number of tasks).

One task per batch keeps a batch's labels in one label set and its inputs in one pattern. An epoch is
``ceil(sum_t n_t / batch_size)`` batches; each task's examples are reshuffled whenever fewer than a batch
are left (so no batch holds an example twice), and a small task drawn often repeats its examples in a new order.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from promptlearn.errors import PromptlearnError


def task_probabilities(sizes: list[int], sampling: str, temperature: float = 2.0) -> list[float]:
    """p_t of each task for ``sizes`` (its training examples) under the rule ``sampling`` (module docstring)."""
    if any(size <= 0 for size in sizes):
        raise PromptlearnError(f"Every task needs training examples; the sizes are {sizes}")
    if sampling == "equal":
        return [1 / len(sizes)] * len(sizes)
    power = 1.0 if sampling == "proportional" else 1 / temperature
    weights = [size**power for size in sizes]
    return [weight / sum(weights) for weight in weights]


class TaskMixture:
    """A batch sampler: lists of indices into the training items, each list one task's.

    ``tasks``: the task index of each training item; ``probabilities``: p_t per task index.
    """

    def __init__(self, tasks: list[int], batch_size: int, probabilities: list[float], generator: torch.Generator):
        self.members = [[i for i, task in enumerate(tasks) if task == t] for t in range(len(probabilities))]
        self.batch_size = batch_size
        self.probabilities = torch.tensor(probabilities, dtype=torch.float64)
        self.generator = generator
        self.batches = math.ceil(len(tasks) / batch_size)
        self.queues: list[list[int]] = [[] for _ in self.members]

    def __len__(self) -> int:
        return self.batches

    def __iter__(self) -> Iterator[list[int]]:
        for _ in range(self.batches):
            task = int(torch.multinomial(self.probabilities, 1, generator=self.generator))
            yield self._take(task)

    def _take(self, task: int) -> list[int]:
        members, queue = self.members[task], self.queues[task]
        size = min(self.batch_size, len(members))
        if len(queue) < size:  # the few left over would repeat in the next batch: start a new pass instead
            queue = [members[i] for i in torch.randperm(len(members), generator=self.generator).tolist()]
        batch, self.queues[task] = queue[:size], queue[size:]
        return batch
