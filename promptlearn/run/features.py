"""The registry of run-level features (:mod:`promptlearn.run.feature`): adding a feature is its module plus
one line here.

The order is the order hooks run in and the order RunConfig lists the features' options (so ``config.json``
keeps its key order): new features go last. No two features use the same hook in a way whose order
matters: only the search prepares, only soft labels give targets, objective terms are merged by name,
and each feature saves its own file. The unlabelled pool (:mod:`promptlearn.run.unlabeled`) declares an
option and serves two features; it has no hook.
"""

from __future__ import annotations

from promptlearn.run import (
    adapet,
    aux_mlm,
    calibration,
    contrastive,
    demonstrations,
    label_search,
    soft_labels,
    tracking,
)
from promptlearn.run.feature import Feature

FEATURES: list[Feature] = [
    aux_mlm.FEATURE,
    soft_labels.FEATURE,
    calibration.FEATURE,
    demonstrations.FEATURE,
    label_search.FEATURE,
    tracking.FEATURE,
    contrastive.FEATURE,
    adapet.FEATURE,
]
