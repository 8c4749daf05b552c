"""PromptModel: a backbone, a mode and a readout, as one module (:mod:`.prompt_model`).

The names ``promptlearn.model`` held before the package split stay importable from here for one release
(loaded on first use).
"""

from __future__ import annotations

from promptlearn import lazy_names

_MOVED = {
    "PromptModel": "promptlearn.model.prompt_model",
    "load_backbone": "promptlearn.backbone.loading",
    "load_tokenizer": "promptlearn.backbone.loading",
}


__getattr__ = lazy_names(__name__, _MOVED)
