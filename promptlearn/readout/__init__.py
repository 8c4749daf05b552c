"""Readouts: hidden states -> class scores (label words at the mask, heads, warp).

Every module in this package is imported here, so each readout registers itself
(:mod:`promptlearn.readout.registry`) before a mode asks for one by name.
"""

from __future__ import annotations

import importlib
import pkgutil

for _info in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_info.name}")
