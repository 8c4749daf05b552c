"""Speed and memory benchmark: every mode against the naive full-vocabulary MLM pipeline.

``run_benchmark(BenchConfig(...))`` measures training and evaluation throughput and peak memory,
each configuration in a fresh process; ``to_markdown`` renders the report. ``promptlearn bench``
is the command-line front end; docs/benchmarks.md records the results.

The names load on first use, so that reading :class:`BenchConfig` (the command's options) loads no torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "BenchConfig": "promptlearn.bench.config",
    "Case": "promptlearn.bench.config",
    "to_markdown": "promptlearn.bench.report",
    "plan": "promptlearn.bench.runner",
    "run_benchmark": "promptlearn.bench.runner",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'promptlearn.bench' has no attribute {name!r}")
