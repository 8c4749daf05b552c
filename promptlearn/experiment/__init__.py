"""Few-shot experiments: a grid of tasks x modes x K x patterns x seeds, run resumably and summarized.

``config`` validates the YAML and expands the grid, ``check`` checks every prompt against its data
before the first run, ``runner`` runs the grid (one staged folder per run; ``shard`` lets several
processes share it; ``grid`` holds how it runs), ``aggregate`` turns records into mean (std) rows,
``report`` and ``plots`` write the summary. The names below load on first use, so that the command line
reads :mod:`.grid` without loading torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "ALL_SHOTS": "config", "ZERO_SHOT": "config", "Experiment": "config", "RunSpec": "config",
    "write_report": "report", "run_experiment": "runner",
}  # fmt: skip

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
