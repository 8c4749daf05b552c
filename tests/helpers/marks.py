"""Parametrize a matrix so the fast tier (``-m "not slow"``) checks its first case and the full suite all of them."""

from __future__ import annotations

import pytest


def first_fast(values, ids=None) -> list:
    """``values`` as ``pytest.param``s, every one after the first marked ``slow``.

    For a check repeated over modes or architectures where each case trains or builds a model: one case
    keeps the check in the fast tier, the rest run with the full suite.
    """
    ids = list(ids) if ids is not None else [None] * len(values)
    params = []
    for index, (value, name) in enumerate(zip(values, ids, strict=True)):
        value = value if isinstance(value, tuple) else (value,)
        marks = () if index == 0 else pytest.mark.slow
        params.append(pytest.param(*value, id=name, marks=marks))
    return params
