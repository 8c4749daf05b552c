"""Data: examples and their files (:mod:`.examples`, :mod:`.files`), and few-shot sampling (:mod:`.sampling`).

The names ``promptlearn.data`` held before the package split stay importable from here for one release
(loaded on first use, so importing a submodule stays cheap).
"""

from __future__ import annotations

from promptlearn import lazy_names

_MOVED = {
    "Example": "promptlearn.data.examples",
    "Columns": "promptlearn.data.examples",
    "TaskData": "promptlearn.data.examples",
    "SPLITS": "promptlearn.data.examples",
    "load_task_data": "promptlearn.data.examples",
    "load_examples": "promptlearn.data.examples",
    "parse_examples": "promptlearn.data.examples",
    "few_shot": "promptlearn.data.sampling",
    "unused_sample": "promptlearn.data.sampling",
    "DEV_SPLITS": "promptlearn.data.sampling",
    "DEFAULT_DEV_SPLIT": "promptlearn.data.sampling",
}


__getattr__ = lazy_names(__name__, _MOVED)
