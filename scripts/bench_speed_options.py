"""Training throughput of one mode with and without ``--packed`` and ``--sparse-embedding-grads``, round-robin.

Each measurement is a ``promptlearn bench`` row (:func:`promptlearn.bench.runner.run_isolated`: a fresh process,
``Trainer.fit`` on the few-shot sample ``train --shots K --seed S`` draws, warm-up steps untimed); the variants
alternate ``--repeat`` times and each keeps its fastest, so a burst of load on a shared machine hits all alike::

    python scripts/bench_speed_options.py --model ../shared/models/bert-tiny --train-data ../shared/data/sst2 \\
        --steps 20 --warmup-steps 5 --repeat 3 --json docs/bench/cpu-bert-tiny-speed-options.json
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from promptlearn.bench.config import TRAIN_DATA, BenchConfig, Case
from promptlearn.bench.runner import fastest, run_isolated

VARIANTS = {
    "padded, dense gradients (default)": {},
    "--sparse-embedding-grads": {"sparse_embedding_grads": True},
    "--packed": {"packed": True},
    "--packed --sparse-embedding-grads": {"packed": True, "sparse_embedding_grads": True},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--random-weights", action="store_true")
    parser.add_argument("--train-data", required=True)
    parser.add_argument("--shots", type=int, default=16)
    parser.add_argument("--mode", default="pet")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup-steps", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    base = dict(model=args.model, random_weights=args.random_weights, modes=[args.mode], train_data=args.train_data,
                shots=args.shots, steps=args.steps, warmup_steps=args.warmup_steps, threads=args.threads)  # fmt: skip
    case = Case(TRAIN_DATA, args.batch_size, args.mode)
    started, measured = time.perf_counter(), {name: [] for name in VARIANTS}
    for _ in range(args.repeat):
        for name, options in VARIANTS.items():
            measured[name].append(run_isolated(BenchConfig(**base, **options), case))
            logging.info("%s: %s", name, measured[name][-1].get("examples_per_s", measured[name][-1].get("error")))
    rows = {name: fastest(results) for name, results in measured.items()}
    reference = rows["padded, dense gradients (default)"].get("examples_per_s")
    print(f"{args.mode}, batch {args.batch_size}, {args.train_data} K = {args.shots}, {args.steps} timed steps, "
          f"fastest of {args.repeat} round-robin runs, {time.perf_counter() - started:.0f} s\n")  # fmt: skip
    print("| variant | ex/s | × default | every run's ex/s |\n| --- | ---: | ---: | --- |")
    for name, row in rows.items():
        if "error" in row:
            print(f"| {name} | failed: {row['error'][:100]} | | |")
            continue
        ratio = row["examples_per_s"] / reference if reference else float("nan")
        runs = ", ".join(f"{r:.1f}" for r in row.get("repeats", [row["examples_per_s"]]))
        print(f"| {name} | {row['examples_per_s']:.1f} | {ratio:.2f}× | {runs} |")
    if args.json is not None:
        args.json.write_text(json.dumps({"settings": vars(args) | {"json": str(args.json)}, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
