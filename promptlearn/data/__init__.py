"""Data: examples and their files (:mod:`.examples`, :mod:`.files`), and few-shot sampling (:mod:`.sampling`).

The names ``promptlearn.data`` held before the package split stay importable from here for one release
(loaded on first use, so importing a submodule stays cheap).
"""

from __future__ import annotations

import importlib

_MOVED = {
    "Example": "examples", "Columns": "examples", "TaskData": "examples", "SPLITS": "examples",
    "load_task_data": "examples", "load_examples": "examples", "parse_examples": "examples",
    "few_shot": "sampling", "unused_sample": "sampling", "DEV_SPLITS": "sampling", "DEFAULT_DEV_SPLIT": "sampling",
}  # fmt: skip


def __getattr__(name: str):
    if name in _MOVED:
        return getattr(importlib.import_module(f"{__name__}.{_MOVED[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
