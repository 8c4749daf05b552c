"""Seconds per training step of the trainer's own loop, for comparing two checkouts of promptlearn.

A ``pet`` run on bert-tiny (batch 8, 128 tokens, one thread) trains 25 steps through ``Trainer.fit``;
the line printed is the mean over the last 20. The library comes from ``PYTHONPATH``, so the same script
times an old checkout and the new one, alternately, under the same conditions::

    git archive 17b9afe | tar -x -C /tmp/old
    for i in 1 2 3 4 5; do
        PYTHONPATH=/tmp/old python3 scripts/step_time.py old; PYTHONPATH=. python3 scripts/step_time.py new
    done
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from promptlearn import Example, RunConfig, api

SHARED = Path(__file__).resolve().parents[2] / "shared"


def main(label: str) -> None:
    torch.set_num_threads(1)
    config = RunConfig(
        model=str(SHARED / "models" / "bert-tiny"), data=str(SHARED / "data" / "sst2"),
        pattern="{text} It was [MASK].", verbalizer={"positive": ["great"], "negative": ["terrible"]},
        max_length=128, batch_size=8, max_steps=25, warmup_ratio=0.0, eval_every=1000,
    )  # fmt: skip
    run = api.build(config)
    examples = [Example("a " * 120 + str(i), label="positive" if i % 2 else "negative") for i in range(8 * 25)]
    stamps: list[float] = []
    run.trainer.fit(run.pvp.encode(examples), [], on_step=lambda step: stamps.append(time.perf_counter()))
    print(label, "s/step", round((stamps[-1] - stamps[4]) / 20, 4))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "this")
