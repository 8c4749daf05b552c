"""One training step of a mode under the torch profiler: where the time of a step goes (docs/benchmarks.md).

The step is the trainer's own (``Trainer.fit`` through :func:`promptlearn.api.build`), on ``--batch-size``
synthetic examples of exactly ``--seq-len`` tokens, after one untimed warm-up step; the table is the
profiler's operators by self CPU time::

    python scripts/profile_step.py --model ../shared/models/tokenizers/bert-base-uncased --random-weights \\
        --mode pet --batch-size 8 --seq-len 128
"""

from __future__ import annotations

import argparse

import torch
from torch.profiler import ProfilerActivity, profile

from promptlearn import api
from promptlearn.bench.cases import build_backbone, run_config, synthetic_examples
from promptlearn.bench.config import BenchConfig, Case


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--random-weights", action="store_true")
    parser.add_argument("--mode", default="pet")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rows", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = BenchConfig(model=args.model, random_weights=args.random_weights, steps=1, warmup_steps=1)
    case = Case("train", args.batch_size, args.mode)
    run = api.build(run_config(config, case, args.seq_len, args.batch_size), backbone=build_backbone(config))
    encoded = run.pvp.encode(synthetic_examples(2 * args.batch_size, list(config.verbalizer)))
    profiler = profile(activities=[ProfilerActivity.CPU])
    # step 1 is the warm-up; the profiler records step 2 alone (max_steps is warm-up + 1)
    run.trainer.fit(encoded, [], on_step=lambda step: profiler.start() if step == 1 else profiler.stop())
    print(f"{args.mode}, batch {args.batch_size}, {args.seq_len} tokens, {args.threads} thread(s): one step")
    print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows, max_name_column_width=40))


if __name__ == "__main__":
    main()
