"""Run every configuration of a benchmark, each in a fresh process, and put the baseline ratios beside them.

A fresh process per configuration keeps peak-memory readings apart (CUDA's caching allocator
and the process's peak RSS never go back down) and leaves no compiled graph or warm cache
behind for the next row.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import time

import torch

from promptlearn.bench.config import EVAL_DATA, PHASES, REFERENCES, TRAIN_DATA, BenchConfig, Case
from promptlearn.bench.measure import environment
from promptlearn.errors import PromptlearnError
from promptlearn.modes import MODES
from promptlearn.run.config import RunConfig

logger = logging.getLogger(__name__)


def plan(config: BenchConfig) -> list[Case]:
    """Every configuration to measure: per batch size and phase, the references and then each mode."""
    modes = resolve_modes(config.modes)
    references = [r for r in REFERENCES if r in config.references]
    cases = []
    for batch_size in config.batch_sizes:
        for phase in (p for p in PHASES if p in config.phases):
            cases += [Case(phase, batch_size, reference=r) for r in references]
            cases += [Case(phase, batch_size, mode, compiled) for mode in modes for compiled in config.compile_variants]
    default_mode, train_batch_size = (_run_default(name) for name in ("mode", "batch_size"))
    for phase, data, batch_size in ((TRAIN_DATA, config.train_data, train_batch_size),
                                    (EVAL_DATA, config.eval_data, config.eval_batch_size)):  # fmt: skip
        if data:
            cases += [Case(phase, batch_size, reference=r) for r in references]
            cases += [Case(phase, batch_size, default_mode, c) for c in config.compile_variants]
    return cases


def _run_default(name: str):
    """The default of a :class:`RunConfig` field: what ``promptlearn train`` uses unless told otherwise."""
    return next(f.default for f in dataclasses.fields(RunConfig) if f.name == name)


def resolve_modes(modes: list[str] | None) -> list[str]:
    """The requested modes (all registered ones when None), checked against the registry."""
    if modes is None:
        return sorted(MODES)
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise PromptlearnError(f"Unknown mode(s) {unknown}; registered modes: {', '.join(sorted(MODES))}")
    return list(modes)


def run_benchmark(config: BenchConfig, command: str = "") -> dict:
    """Measure every planned case and return the report: environment, settings, command and rows.

    With ``config.repeat`` N > 1 the whole plan runs N times, round-robin (so a burst of load on
    a shared machine hits every row alike), and each row keeps its fastest measurement, the
    others' throughputs listed in ``repeats``. A case that fails (a mode that needs options, out
    of memory) becomes a row with ``error``.
    """
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    started = time.perf_counter()
    cases = plan(config)
    measured: list[list[dict]] = [[] for _ in cases]
    for _ in range(config.repeat):
        for case, results in zip(cases, measured, strict=True):
            logger.info("bench: %s %s batch %d", case.phase, case.system, case.batch_size)
            results.append(run_isolated(config, case))
    rows = []
    for case, results in zip(cases, measured, strict=True):
        rows.append({"phase": case.phase, "system": case.system, "mode": case.mode, "compile": case.compile,
                     "reference": case.reference if case.mode is None else None, "batch_size": case.batch_size,
                     **fastest(results)})  # fmt: skip
    add_ratios(rows)
    return {
        "command": command,
        "environment": environment(device),
        "settings": config.to_dict(),
        "wall_seconds": round(time.perf_counter() - started, 1),
        "results": rows,
    }


def fastest(results: list[dict]) -> dict:
    """The measurement with the highest throughput (an error only if every one failed), with all throughputs."""
    good = [r for r in results if "error" not in r]
    if not good:
        return results[-1]
    best = max(good, key=lambda r: r["examples_per_s"])
    return best | ({"repeats": [r["examples_per_s"] for r in good]} if len(results) > 1 else {})


def add_ratios(rows: list[dict]) -> None:
    """Ratios to the reference rows of the same phase and batch size.

    ``speedup`` and ``memory_ratio``: throughput and peak memory over the naive row's;
    ``plain_speedup``: throughput over the plain row's.
    """
    references = {(r["reference"], r["phase"], r["batch_size"]): r for r in rows if r["reference"] and "error" not in r}
    for row in rows:
        if "error" in row:
            continue
        naive = references.get(("naive", row["phase"], row["batch_size"]))
        if naive is not None:
            row["speedup"] = row["examples_per_s"] / naive["examples_per_s"]
            if naive["peak_memory_bytes"]:
                row["memory_ratio"] = row["peak_memory_bytes"] / naive["peak_memory_bytes"]
        plain = references.get(("plain", row["phase"], row["batch_size"]))
        if plain is not None:
            row["plain_speedup"] = row["examples_per_s"] / plain["examples_per_s"]


def run_isolated(config: BenchConfig, case: Case) -> dict:
    """:func:`measure` in a fresh (spawned) process."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(config, case, send), daemon=True)
    process.start()
    send.close()
    try:
        if not receive.poll(config.timeout_s):
            process.kill()
            return {"error": f"no result within {config.timeout_s:.0f} s"}
        return receive.recv()
    except EOFError:
        process.join()
        return {"error": f"the process died (exit code {process.exitcode}; out of memory?)"}
    finally:
        process.join(timeout=60)
        receive.close()


def measure(config: BenchConfig, case: Case) -> dict:
    """:func:`promptlearn.bench.cases.run_case` in this process, a failure returned as ``{"error": ...}``."""
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    from promptlearn.bench.cases import run_case
    from promptlearn.training.threads import use_threads

    try:
        threads = use_threads(config.threads)
        return run_case(config, case) | {"threads": threads}
    except Exception as err:  # one failing row (a mode needing options, out of memory) must not stop the rest
        return {"error": f"{type(err).__name__}: {err}"}


def _child(config: BenchConfig, case: Case, send) -> None:
    send.send(measure(config, case))
    send.close()
