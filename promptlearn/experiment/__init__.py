"""Few-shot experiments: a grid of tasks x modes x K x patterns x seeds, run resumably and summarized.

``config`` validates the YAML and expands the grid, ``check`` checks every prompt against its data
before the first run, ``runner`` runs the grid (one staged folder per run; ``shard`` lets several
processes share it; ``grid`` holds how it runs), ``aggregate`` turns records into mean (std) rows,
``report`` and ``plots`` write the summary. The names below load on first use, so that the command line
reads :mod:`.grid` without loading torch.
"""

from __future__ import annotations

from promptlearn import lazy_names

_EXPORTS = {
    "ALL_SHOTS": "promptlearn.experiment.config",
    "ZERO_SHOT": "promptlearn.experiment.config",
    "Experiment": "promptlearn.experiment.config",
    "RunSpec": "promptlearn.experiment.config",
    "write_report": "promptlearn.experiment.report",
    "run_experiment": "promptlearn.experiment.runner",
}

__all__ = list(_EXPORTS)


__getattr__ = lazy_names(__name__, _EXPORTS)
