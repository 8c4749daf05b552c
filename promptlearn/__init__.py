"""promptlearn: prompt learning for masked language models.

The public API, importable from the package (loaded on first use, so ``import promptlearn``
stays cheap)::

    from promptlearn import Pattern, Verbalizer, PVP, PromptModel, Objective, Trainer, RunConfig, api
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "Pattern": "promptlearn.prompt.pattern",
    "Verbalizer": "promptlearn.prompt.verbalizer",
    "PVP": "promptlearn.prompt.pvp",
    "Example": "promptlearn.data.examples",
    "PromptModel": "promptlearn.model.prompt_model",
    "Trainer": "promptlearn.training.trainer",
    "Objective": "promptlearn.training.objective",
    "RunConfig": "promptlearn.run.config",
    "PromptlearnError": "promptlearn.errors",
    "MODES": "promptlearn.modes",
    "get_mode": "promptlearn.modes",
}

__all__ = [*_EXPORTS, "api"]


def __getattr__(name: str):
    if name == "api":
        return importlib.import_module("promptlearn.api")
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'promptlearn' has no attribute {name!r}")
