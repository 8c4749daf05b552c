"""Speed and memory benchmark: every mode against the naive full-vocabulary MLM pipeline.

``run_benchmark(BenchConfig(...))`` measures training and evaluation throughput and peak memory,
each configuration in a fresh process; ``to_markdown`` renders the report. ``promptlearn bench``
is the command-line front end; docs/benchmarks.md records the results.

The names load on first use, so that reading :class:`BenchConfig` (the command's options) loads no torch.
"""

from __future__ import annotations

from promptlearn import lazy_names

_EXPORTS = {
    "BenchConfig": "promptlearn.bench.config",
    "Case": "promptlearn.bench.config",
    "to_markdown": "promptlearn.bench.report",
    "plan": "promptlearn.bench.runner",
    "run_benchmark": "promptlearn.bench.runner",
}

__all__ = list(_EXPORTS)


__getattr__ = lazy_names(__name__, _EXPORTS)
