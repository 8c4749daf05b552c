"""Classification metrics of predicted labels: accuracy and macro-F1 (single-label; each task shape has its
own in :mod:`promptlearn.tasks`, where they live now)."""

from __future__ import annotations

from promptlearn.tasks.single import classification_metrics

__all__ = ["classification_metrics"]
