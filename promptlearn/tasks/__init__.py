"""Task shapes: what a label is and everything that follows from it (targets, loss, decision, metrics,
prediction records, K-shot sampling). Every shape module registers itself on import."""

from promptlearn.tasks import multi_label, multiple_choice, regression, single  # noqa: F401  (registration)
from promptlearn.tasks.base import SHAPES, TaskShape, get_shape, register_shape, shape_for

__all__ = ["SHAPES", "TaskShape", "get_shape", "register_shape", "shape_for"]
