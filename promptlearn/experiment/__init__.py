"""Few-shot experiments: a grid of tasks x modes x K x patterns x seeds, run resumably and summarized.

``config`` validates the YAML and expands the grid, ``check`` checks every prompt against its data
before the first run, ``runner`` runs the grid (one staged folder per run; ``shard`` lets several
processes share it), ``aggregate`` turns records into mean (std) rows, ``report`` and ``plots``
write the summary.
"""

from promptlearn.experiment.config import ALL_SHOTS, ZERO_SHOT, Experiment, RunSpec
from promptlearn.experiment.report import write_report
from promptlearn.experiment.runner import run_experiment

__all__ = ["ALL_SHOTS", "ZERO_SHOT", "Experiment", "RunSpec", "run_experiment", "write_report"]
