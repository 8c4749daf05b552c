"""The Python API behind the CLI: train a run, load it back, evaluate, predict.

A thin façade over :mod:`promptlearn.run`: :func:`build` (:mod:`~promptlearn.run.prompted`), :func:`fit` and
:func:`train` (:mod:`~promptlearn.run.pipeline`), :func:`load_run` and :func:`export_merged`
(:mod:`~promptlearn.run.folder`, which describes the run folder); a built run evaluates and predicts
itself (:class:`Prompted`). :func:`train_recipe` trains the few-shot recipe into one folder that :func:`load_run`
loads as a :class:`Recipe` (:mod:`~promptlearn.run.recipe`). The run-level features' own entry points are here
too (e.g. :func:`calibrate`, :func:`unlabeled_pool`), each defined in its feature's module
(:mod:`promptlearn.run.feature`).
"""

from __future__ import annotations

from promptlearn.run.aux_mlm import auxiliary_objective, unlabeled_texts
from promptlearn.run.calibration import calibrate
from promptlearn.run.config import RunConfig
from promptlearn.run.demonstrations import FILE as DEMONSTRATIONS
from promptlearn.run.demonstrations import use_demonstrations, write_examples
from promptlearn.run.folder import (
    LABELS_KEY,
    WEIGHTS,
    base_signature,
    check_label_order,
    export_merged,
    load_artifact,
    metrics_of,
    write_predictions,
)
from promptlearn.run.label_search import search_label_words
from promptlearn.run.pipeline import check_positions, few_shot_split, fit, train
from promptlearn.run.prompted import Prompted, build, usable_positions
from promptlearn.run.pvp import build_pvp
from promptlearn.run.recipe import Recipe, load_run, train_recipe
from promptlearn.run.unlabeled import MAX_UNLABELED, unlabeled_pool

#: the columns of ``config``'s data files (:meth:`RunConfig.columns`)
columns_of = RunConfig.columns
#: the paths a run reads, by flag (:meth:`RunConfig.input_paths`)
input_paths = RunConfig.input_paths

__all__ = [
    "DEMONSTRATIONS",
    "LABELS_KEY",
    "MAX_UNLABELED",
    "WEIGHTS",
    "Prompted",
    "Recipe",
    "auxiliary_objective",
    "base_signature",
    "build",
    "build_pvp",
    "calibrate",
    "check_label_order",
    "check_positions",
    "columns_of",
    "export_merged",
    "few_shot_split",
    "fit",
    "input_paths",
    "load_artifact",
    "load_run",
    "metrics_of",
    "search_label_words",
    "train",
    "train_recipe",
    "unlabeled_pool",
    "unlabeled_texts",
    "usable_positions",
    "use_demonstrations",
    "write_examples",
    "write_predictions",
]
