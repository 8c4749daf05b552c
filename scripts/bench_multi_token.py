"""Multi-token label words against one-token words: pet's training step and evaluation, same batch.

Both verbalizers have four words; the multi-token one spells two of them in 2 and 3 word pieces
(bert-tiny: marvellous = marvel ##lous, mediocre = med ##io ##cre), so [MASK] becomes 3 masks and
words are scored by the mean log-probability of their pieces (one forward pass; full-vocabulary
normaliser at the 3 masks). ``exact`` is left-to-right decoding at evaluation (one more forward
pass per extra piece). Runs go through ``api.build`` and the Trainer, alternating the variants
``--repeats`` times; the median is reported, and each ratio is to the one-token row.

    python scripts/bench_multi_token.py --model ../shared/models/bert-tiny --batch-size 32 --seq-len 128
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from promptlearn import api
from promptlearn.backbone.loading import load_backbone
from promptlearn.data.examples import Example
from promptlearn.run.config import RunConfig

ONE_TOKEN = {"positive": ["great", "good"], "negative": ["terrible", "bad"]}
MULTI_TOKEN = {"positive": ["great", "marvellous"], "negative": ["terrible", "mediocre"]}
FILLER = " ".join(["the film was a delight and the acting was fine"] * 64)


def build(model: str, words: dict, args, decoding: str = "one-pass"):
    config = RunConfig(
        model=model, data="(benchmark)", pattern="{text} It was [MASK] .", verbalizer=words, labels=list(words),
        max_length=args.seq_len, batch_size=args.batch_size, eval_batch_size=args.batch_size,
        max_steps=args.steps, eval_every=10**9, seed=13, decoding=decoding,
    )  # fmt: skip
    run = api.build(config, backbone=backbone(model, args.random_weights))
    examples = [Example(FILLER, label=list(words)[i % 2]) for i in range(args.batch_size * args.steps)]
    return run, run.pvp.encode(examples)


def backbone(model: str, random_weights: bool):
    """The masked LM of ``model``, or (``random_weights``: speed does not depend on them) one of its config."""
    if not random_weights:
        return load_backbone(model)
    from transformers import AutoConfig, AutoModelForMaskedLM

    torch.manual_seed(13)
    return AutoModelForMaskedLM.from_config(AutoConfig.from_pretrained(model))


def seconds(action) -> float:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = time.perf_counter()
    action()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="../shared/models/bert-tiny")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--random-weights", action="store_true", help="Only read the model's config.")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    variants = {
        "one-token words (M = 1)": (ONE_TOKEN, "one-pass"),
        "multi-token, one pass (M = 3)": (MULTI_TOKEN, "one-pass"),
        "multi-token, exact decoding": (MULTI_TOKEN, "exact"),
    }
    built = {name: build(args.model, words, args, decoding) for name, (words, decoding) in variants.items()}
    train, evaluate = {name: [] for name in variants}, {name: [] for name in variants}
    for _ in range(args.repeats + 1):  # the first round warms up and is dropped
        for name, (run, encoded) in built.items():
            if variants[name][1] == "one-pass":  # decoding changes evaluation only
                train[name].append(seconds(lambda r=run, e=encoded: r.trainer.fit(e, [])) / args.steps)
            evaluate[name].append(seconds(lambda r=run, e=encoded: r.trainer.predict_proba(e)) / args.steps)
    base_train = statistics.median(train["one-token words (M = 1)"][1:])
    base_eval = statistics.median(evaluate["one-token words (M = 1)"][1:])
    print(f"batch {args.batch_size}, {args.seq_len} tokens, {args.model}, {torch.get_num_threads()} thread(s), "
          f"{'cuda' if torch.cuda.is_available() else 'cpu'}; median of {args.repeats}")  # fmt: skip
    print("| scoring | train ms/step | × one-token | eval ms/batch | × one-token |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name in variants:
        step = statistics.median(train[name][1:]) if train[name] else None
        batch = statistics.median(evaluate[name][1:])
        shown = f"{1000 * step:.1f} | {step / base_train:.2f}×" if step else "(same as one pass) | "
        print(f"| {name} | {shown} | {1000 * batch:.1f} | {batch / base_eval:.2f}× |")


if __name__ == "__main__":
    main()
