"""One measured configuration, run inside its own fresh process (see :mod:`promptlearn.bench.runner`).

promptlearn rows go through the real code path: :func:`promptlearn.api.build` and the
:class:`~promptlearn.training.trainer.Trainer` (``fit`` for training, ``predict_proba`` for evaluation),
so whatever the trainer does (fused AdamW, lean frozen weights, compile) is what gets measured.
The reference rows run :mod:`promptlearn.bench.naive` and :mod:`promptlearn.bench.plain` on the
same backbone, inputs and precision.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from promptlearn import api
from promptlearn.backbone.loading import load_backbone, load_tokenizer
from promptlearn.bench import naive, plain
from promptlearn.bench.config import DATA_PHASES, EVAL_DATA, TRAIN_DATA, BenchConfig, Case
from promptlearn.bench.measure import (
    PeakMemory,
    encoder_flops,
    mfu,
    non_embedding_parameters,
    peak_tflops,
    synchronize,
)
from promptlearn.data.examples import Example, load_examples, load_task_data
from promptlearn.data.sampling import few_shot
from promptlearn.errors import PromptlearnError
from promptlearn.modes import get_mode
from promptlearn.prompt.pattern import Pattern
from promptlearn.prompt.pvp import PVP, Encoded
from promptlearn.prompt.verbalizer import Verbalizer
from promptlearn.run.config import RunConfig
from promptlearn.training.trainer import autocast_dtype, mixed_precision

#: phases that time optimizer steps
TRAINING_PHASES = ("train", TRAIN_DATA)
#: Text long enough to be truncated to any ``seq_len``: every synthetic example is exactly that long.
_FILLER = " ".join(["the film was a delight and the acting was fine"] * 64)


def run_case(config: BenchConfig, case: Case) -> dict:
    """Measure ``case``: throughput (examples/s), peak memory and, where known, MFU."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = load_tokenizer(config.model)
    memory = PeakMemory(device)
    memory.start()
    backbone = build_backbone(config)
    if case.phase == EVAL_DATA:
        examples = load_examples(config.eval_data)
        length, batch_size = config.eval_max_length, config.eval_batch_size
    elif case.phase == TRAIN_DATA:
        examples = few_shot_sample(config)
        length, batch_size = config.eval_max_length, case.batch_size
    else:
        examples = synthetic_examples(case.batch_size * config.steps, list(config.verbalizer))
        length, batch_size = config.seq_len, case.batch_size
    limit = getattr(backbone.config, "max_position_embeddings", None)
    if limit is not None and length > limit:
        raise PromptlearnError(f"{length} tokens exceed the model's {limit} positions: lower the length")
    if case.mode is None:
        run_reference = _run_plain if case.reference == "plain" else _run_naive
        measured = run_reference(config, case, backbone, tokenizer, examples, length, batch_size, device)
    else:
        measured = _run_promptlearn(config, case, backbone, examples, length, batch_size, device)
    measured["peak_memory_bytes"] = memory.peak_bytes()
    measured["non_embedding_parameters"] = non_embedding_parameters(backbone)
    mask_rows = measured.pop("mask_rows", None)
    if case.phase not in DATA_PHASES:  # fixed-length inputs: every example is seq_len tokens
        measured["tokens_per_s"] = measured["examples_per_s"] * length
        flops = encoder_flops(backbone, length, 6 if case.phase == "train" else 2, mask_rows)  # per example
        measured["mfu"] = mfu(flops, measured["examples_per_s"], peak_tflops(device, config.peak_tflops))
    return measured


def build_backbone(config: BenchConfig) -> nn.Module:
    """The masked LM of ``config.model``, or one of its architecture with random weights (seeded)."""
    if not config.random_weights:
        return load_backbone(config.model)
    from transformers import AutoConfig, AutoModelForMaskedLM

    try:
        model_config = AutoConfig.from_pretrained(config.model)
    except (OSError, ValueError) as err:
        raise PromptlearnError(f"Cannot read a model config from {config.model}: {err}") from err
    torch.manual_seed(config.seed)
    return AutoModelForMaskedLM.from_config(model_config)


def synthetic_examples(count: int, labels: list[str]) -> list[Example]:
    """``count`` examples whose text fills any token budget, labels in turn."""
    return [Example(_FILLER, label=labels[i % len(labels)]) for i in range(count)]


def few_shot_sample(config: BenchConfig) -> list[Example]:
    """The training examples ``promptlearn train --shots K --seed S`` would sample from ``config.train_data``."""
    train, _ = few_shot(load_task_data(config.train_data), config.shots, config.seed)
    return train


def run_config(config: BenchConfig, case: Case, length: int, batch_size: int) -> RunConfig:
    """The promptlearn run a case measures (the data field is unused: inputs come encoded)."""
    return RunConfig(
        model=config.model,
        data="(benchmark)",
        pattern=config.pattern,
        verbalizer=config.verbalizer,
        labels=list(config.verbalizer),  # modes with a classification head read no verbalizer
        mode=case.mode,
        mode_options=config.mode_options.get(case.mode, {}),
        max_length=length,
        batch_size=batch_size,
        eval_batch_size=batch_size,
        max_steps=config.warmup_steps + config.steps,
        precision=config.precision,
        compile=case.compile,
        seed=config.seed,
        packed=config.packed,
        sparse_embedding_grads=config.sparse_embedding_grads,
    )


def _run_promptlearn(config, case, backbone, examples, length, batch_size, device) -> dict:
    run = api.build(run_config(config, case, length, batch_size), backbone=backbone)
    encoded = run.pvp.encode(examples)
    _check_length(case, encoded, length)
    if case.phase in TRAINING_PHASES:
        seconds = _time_steps(lambda on_step: run.trainer.fit(encoded, [], on_step=on_step), config, device)
        result = _train_result(case, encoded, config.steps, seconds)
    else:
        run.trainer.predict_proba(_warmup_sample(encoded, batch_size, config.warmup_steps))
        seconds, probs = _timed(lambda: run.trainer.predict_proba(encoded), device)
        result = _eval_result(encoded, probs, seconds)
    result["trainable_parameters"] = run.model.trainable_parameters()
    if run.model.mask_only:  # the last layer ran at the masks alone: MFU counts that work (see run_case)
        result["mask_rows"] = run.model.mask_count
    return result


def _reference_pvp(config: BenchConfig, tokenizer, length: int) -> PVP:
    return PVP(Pattern.parse(config.pattern), Verbalizer.from_dict(config.verbalizer), tokenizer, max_length=length)


def _run_plain(config, case, backbone, tokenizer, examples, length, batch_size, device) -> dict:
    pvp = _reference_pvp(config, tokenizer, length)
    model = plain.PlainCloze(backbone, pvp.label_token_ids).to(device)
    dtype = autocast_dtype(mixed_precision(config.precision))
    encoded = pvp.encode(examples)
    _check_length(case, encoded, length)
    inputs = naive.fixed_collate(pvp, length)(encoded)  # tokenized and padded once, as a hand loop would
    trim = config.plain_padding == "batch"  # then each batch cut to its longest example
    if case.phase in TRAINING_PHASES:
        steps = config.warmup_steps + config.steps
        pet = run_config(config, Case(case.phase, batch_size, "pet"), length, batch_size)  # the same settings
        lr, decay, clip = get_mode("pet").default_learning_rate, pet.weight_decay, pet.max_grad_norm
        seconds = _time_steps(
            lambda on_step: plain.train(
                model, inputs, batch_size, steps, dtype, on_step, config.seed, lr, decay, clip, trim
            ),
            config,
            device,
        )
        result = _train_result(case, encoded, config.steps, seconds)
    else:
        warmup = naive.fixed_collate(pvp, length)(_warmup_sample(encoded, batch_size, config.warmup_steps))
        plain.predict_proba(model, warmup, batch_size, dtype, trim)
        seconds, probs = _timed(lambda: plain.predict_proba(model, inputs, batch_size, dtype, trim), device)
        result = _eval_result(encoded, probs, seconds)
    result["trainable_parameters"] = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return result


def _run_naive(config, case, backbone, tokenizer, examples, length, batch_size, device) -> dict:
    pvp = _reference_pvp(config, tokenizer, length)
    model = naive.NaiveCloze(backbone, pvp.label_token_ids).to(device)
    dtype = autocast_dtype(mixed_precision(config.precision))
    collate = naive.fixed_collate(pvp, length)
    encoded = pvp.encode(examples)
    _check_length(case, encoded, length)
    if case.phase in TRAINING_PHASES:
        steps = config.warmup_steps + config.steps
        seconds = _time_steps(
            lambda on_step: naive.train(model, encoded, collate, batch_size, steps, dtype, on_step, config.seed),
            config,
            device,
        )
        result = _train_result(case, encoded, config.steps, seconds)
    else:
        naive.predict_proba(model, _warmup_sample(encoded, batch_size, config.warmup_steps), collate, batch_size, dtype)
        seconds, probs = _timed(lambda: naive.predict_proba(model, encoded, collate, batch_size, dtype), device)
        result = _eval_result(encoded, probs, seconds)
    result["trainable_parameters"] = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return result


def _time_steps(train, config: BenchConfig, device: torch.device) -> float:
    """Seconds the timed steps took; ``train(on_step)`` runs warm-up plus timed steps."""
    stamps = []

    def on_step(step: int) -> None:
        synchronize(device)
        stamps.append(time.perf_counter())

    train(on_step)
    if len(stamps) != config.warmup_steps + config.steps:
        raise RuntimeError(f"expected {config.warmup_steps + config.steps} optimizer steps, saw {len(stamps)}")
    return stamps[-1] - stamps[config.warmup_steps - 1]


def _timed(work, device: torch.device):
    synchronize(device)
    started = time.perf_counter()
    out = work()
    synchronize(device)
    return time.perf_counter() - started, out


def _warmup_sample(encoded: list[Encoded], batch_size: int, batches: int) -> list[Encoded]:
    """Warm-up inputs spread over the lengths present, ending in a batch as small as the real last one.

    So a compiled model meets varying lengths and the odd batch size before the timing starts.
    """
    by_length = sorted(encoded, key=lambda e: len(e.input_ids))
    count = min(len(by_length), batch_size * batches + len(by_length) % batch_size)
    picks = np.linspace(0, len(by_length) - 1, num=count).round().astype(int)
    return [by_length[i] for i in picks]


def _eval_result(encoded: list[Encoded], probs: np.ndarray, seconds: float) -> dict:
    """Throughput, input size and (for labelled inputs) accuracy of one timed evaluation."""
    result = {
        "examples_per_s": len(encoded) / seconds,
        "examples": len(encoded),
        "mean_length": float(np.mean([len(e.input_ids) for e in encoded])),
    }
    gold = np.array([e.label for e in encoded])
    if (gold >= 0).all():
        result["accuracy"] = float((probs.argmax(axis=1) == gold).mean())
    return result


def _train_result(case: Case, encoded: list[Encoded], steps: int, seconds: float) -> dict:
    """Throughput of timed training steps; on real data also the sample's size and mean length."""
    result = {"examples_per_s": case.batch_size * steps / seconds}
    if case.phase == TRAIN_DATA:
        result |= {"examples": len(encoded), "mean_length": float(np.mean([len(e.input_ids) for e in encoded]))}
    return result


def _check_length(case: Case, encoded: list[Encoded], length: int) -> None:
    """Synthetic inputs must come out exactly ``length`` tokens long (real data has its own lengths)."""
    if case.phase in DATA_PHASES:
        return
    short = [len(e.input_ids) for e in encoded if len(e.input_ids) != length]
    if short:
        raise PromptlearnError(f"Synthetic inputs came out {short[0]} tokens long instead of --seq-len {length}")
