"""The registry of run-level features (:mod:`promptlearn.run.feature`), in the order their hooks run.

Adding a feature is its module plus one line here (and its options' lines in RunConfig's body).
The unlabelled pool (:mod:`promptlearn.run.unlabeled`) declares an option and serves two of them; it has no hook.
"""

from __future__ import annotations

from promptlearn.run import aux_mlm, calibration, demonstrations, label_search, soft_labels
from promptlearn.run.feature import Feature

FEATURES: list[Feature] = [
    label_search.FEATURE,
    demonstrations.FEATURE,
    soft_labels.FEATURE,
    aux_mlm.FEATURE,
    calibration.FEATURE,
]
