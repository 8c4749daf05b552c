"""PromptModel: a backbone, a mode and a readout, as one module (:mod:`.prompt_model`).

The names ``promptlearn.model`` held before the package split stay importable from here for one release
(loaded on first use).
"""

from __future__ import annotations

import importlib

_MOVED = {
    "PromptModel": "promptlearn.model.prompt_model",
    "load_backbone": "promptlearn.backbone.loading",
    "load_tokenizer": "promptlearn.backbone.loading",
}


def __getattr__(name: str):
    if name in _MOVED:
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
