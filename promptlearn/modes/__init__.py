"""Training modes, one module each; every module in this package registers itself on import."""

from __future__ import annotations

import importlib
import pkgutil

from promptlearn.errors import PromptlearnError
from promptlearn.modes.base import MODES, Mode, ModeOptions, register

for _info in pkgutil.iter_modules(__path__):
    if _info.name != "base":
        importlib.import_module(f"{__name__}.{_info.name}")


def get_mode(name: str) -> type[Mode]:
    """The mode class registered as ``name``."""
    if name not in MODES:
        raise PromptlearnError(f"Unknown mode {name!r}; choose one of: {', '.join(sorted(MODES))}")
    return MODES[name]


__all__ = ["MODES", "Mode", "ModeOptions", "get_mode", "register"]
