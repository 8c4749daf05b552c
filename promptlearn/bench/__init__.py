"""Speed and memory benchmark: every mode against the naive full-vocabulary MLM pipeline.

``run_benchmark(BenchConfig(...))`` measures training and evaluation throughput and peak memory,
each configuration in a fresh process; ``to_markdown`` renders the report. ``promptlearn bench``
is the command-line front end; docs/benchmarks.md records the results.
"""

from promptlearn.bench.config import BenchConfig, Case
from promptlearn.bench.report import to_markdown
from promptlearn.bench.runner import plan, run_benchmark

__all__ = ["BenchConfig", "Case", "plan", "run_benchmark", "to_markdown"]
