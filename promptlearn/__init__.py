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


def lazy_names(package: str, homes: dict[str, str]):
    """A module ``__getattr__`` for ``package`` that imports each name of ``homes`` (name -> the module defining
    it) on first use, so that importing the package, or one of its modules, loads nothing else."""

    def __getattr__(name: str):
        if name in homes:
            return getattr(importlib.import_module(homes[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__


_names = lazy_names(__name__, _EXPORTS)


def __getattr__(name: str):
    if name == "api":
        return importlib.import_module("promptlearn.api")
    return _names(name)
