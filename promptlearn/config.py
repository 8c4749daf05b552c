"""``promptlearn.config`` before the package split: :class:`RunConfig` now lives in :mod:`promptlearn.run.config`.

Kept for one release so that code written against the old path keeps working; import from
``promptlearn`` (``from promptlearn import RunConfig``) or :mod:`promptlearn.run.config` instead.
"""

from promptlearn.run.config import DEFAULT_MAX_STEPS, RunConfig

__all__ = ["DEFAULT_MAX_STEPS", "RunConfig"]
