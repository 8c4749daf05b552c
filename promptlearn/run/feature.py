"""The run-level feature interface: a feature is one module that declares its options and its hooks.

A run-level feature (the label-word search, demonstrations, soft labels, the auxiliary MLM loss,
calibration) changes how a run is fitted, saved or loaded without the pipeline naming it. Its module:

- declares its options with :func:`option` (default, help, whether it names a path) in
  :attr:`Feature.options`; :class:`~promptlearn.run.config.RunConfig` adds them to its fields from the
  registry, so ``promptlearn train`` gets their flags and ``config.json`` saves them;
- subclasses :class:`Feature`, overriding only the hooks it needs, and puts one instance in
  :data:`promptlearn.run.features.FEATURES` (the registration line), whose order is the order hooks run in;
- declares the task shapes it serves (:attr:`Feature.shapes`) and the flag a run uses it by
  (:meth:`Feature.used`): :func:`refuse_unserved` refuses it on any other shape, so no shape lists features.

RunConfig imports the features (their options are its fields), so a feature cannot import RunConfig or the
run that holds one back: hooks receive them as :data:`RunSettings` and :class:`Run`. Features import what is
heavy (torch, transformers) inside their hooks: RunConfig, and with it every feature module, loads before
the command line has checked its input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from promptlearn.data.examples import Example, TaskData
from promptlearn.errors import PromptlearnError

if TYPE_CHECKING:
    import numpy as np
    import torch

    from promptlearn.model.prompt_model import PromptModel
    from promptlearn.prompt.pvp import PVP
    from promptlearn.tasks.base import TaskShape
    from promptlearn.training.trainer import Trainer

#: a :class:`~promptlearn.run.config.RunConfig`, named in words only (see the module docstring)
RunSettings = Any
#: what a run uses and the task shapes it serves: (the flag as the user gave it, or None when unused; shape names,
#: or None for every shape)
Use = tuple[str | None, tuple[str, ...] | None]

#: field metadata key of an option that names a local file or folder (made absolute, never overwritten by a
#: run); its value is the prefix a value starts with when it names one, "" here (as for mode options, see
#: :meth:`promptlearn.modes.base.Mode.option_paths`)
PATH = "path"
#: field metadata key of an option left out of ``config.json`` (and of a grid run's fingerprint): it says where a
#: run is reported, not what it computes, so re-running the file elsewhere needs none of it
UNSAVED = "unsaved"
#: field metadata key of an option ``config.json`` leaves out while it holds its default: an option added after
#: runs were saved, so their config.json (and a grid run's fingerprint) stays byte-identical, and a release
#: without the option still reads every run that does not use it
OMITTED_AT_DEFAULT = "omitted_at_default"


def option(default, help: str, path: bool = False, saved: bool = True, omitted_at_default: bool = False):
    """A RunConfig field that is also a ``promptlearn train`` option: its flag is
    :func:`~promptlearn.run.config.flag` of its name. ``path``: its value names a local file or folder;
    ``saved=False``: it is left out of :meth:`~promptlearn.run.config.RunConfig.to_dict` (see :data:`UNSAVED`);
    ``omitted_at_default``: left out only while it holds ``default`` (see :data:`OMITTED_AT_DEFAULT`)."""
    metadata = {"help": help} | ({PATH: ""} if path else {}) | ({} if saved else {UNSAVED: True})
    metadata |= {OMITTED_AT_DEFAULT: True} if omitted_at_default else {}
    return field(default=default, metadata=metadata)


class Run(Protocol):
    """What hooks use of a built run (a :class:`~promptlearn.run.prompted.Prompted`)."""

    config: RunSettings
    pvp: PVP
    model: PromptModel
    trainer: Trainer
    #: the bias vector (C,) divided out of every prediction, None when the run is not calibrated
    calibration: np.ndarray | None
    #: the task shape's decision rule fitted on dev (multi-label: the threshold), None when it has none
    decision: dict | None

    def predict_proba(self, examples: list[Example], encoded: list | None = None) -> np.ndarray: ...


@dataclass
class Fitting:
    """One fit in progress as features see it: what it reads, and what features leave for the rest of it.

    ``config`` may be replaced by :meth:`Feature.prepare` (the search fills in the verbalizer); ``train``
    and ``dev`` are the run's few-shot sample of ``data``.
    """

    config: RunSettings
    data: TaskData
    train: list[Example]
    dev: list[Example]
    #: a backbone a feature already loaded (the search's), built on instead of loading another
    backbone: torch.nn.Module | None = None
    #: ``metrics.json`` entries by name, written after ``dev`` (e.g. the search's report)
    reports: dict[str, dict] = field(default_factory=dict)
    #: the run folder this fit will be written to (None: none); a feature may name things after it
    output: Path | None = None


class Feature:
    """A run-level feature's hooks, in the order a run calls them; each does nothing unless overridden.

    ``fit`` calls :meth:`prepare`, builds the model, asks :meth:`soft_targets` and :meth:`objective`,
    builds the trainer, calls :meth:`setup`, trains, then calls :meth:`after_fit`; ``train`` then calls
    :meth:`save` on the run folder and, once the folder is in place, :meth:`finish` (as a grid does for each of its
    runs); ``load_run`` calls :meth:`load` on the rebuilt run.

    ``options``: the feature's RunConfig fields, name -> (type, :func:`option`), in the order they are
    saved; RunConfig takes them from the registry (see :func:`promptlearn.run.config.with_feature_options`).
    """

    options: ClassVar[dict[str, tuple[str, Any]]] = {}
    #: the task shapes (:mod:`promptlearn.tasks`) the feature serves, by name, as :attr:`Mode.shapes
    #: <promptlearn.modes.base.Mode.shapes>`; None: every shape. A run that uses it (:meth:`used`) on another
    #: shape is refused by :func:`refuse_unserved`
    shapes: ClassVar[tuple[str, ...] | None] = None

    def check(self, config: RunSettings) -> None:
        """Refuse bad values of the feature's options (called by ``RunConfig.__post_init__``)."""

    def used(self, config: RunSettings) -> str | None:
        """The flag by which ``config`` uses the feature, as the user gives it (``--calibrate``), or None when it
        does not: what :func:`refuse_unserved` names. Only a feature that declares :attr:`shapes` needs it."""
        return None

    def check_shape(self, config: RunSettings, shape: TaskShape) -> None:
        """Refuse an option value that has no meaning on ``shape``, a shape the feature serves (called once the
        run's shape is known, after :func:`refuse_unserved`)."""

    def prepare(self, fitting: Fitting) -> None:
        """Before the model is built: may replace ``fitting.config``, set ``fitting.backbone`` or add a report."""

    def soft_targets(self, fitting: Fitting, pvp: PVP) -> list[list[float]] | None:
        """Label distributions (N, C) that training learns instead of ``fitting.train``'s labels, or None."""
        return None

    def objective(self, fitting: Fitting, pvp: PVP, model: PromptModel) -> dict:
        """Keyword arguments of the run's :class:`~promptlearn.training.objective.Objective` this feature sets."""
        return {}

    def setup(self, run: Run, fitting: Fitting) -> None:
        """After the run is built, before training."""

    def after_fit(self, run: Run, fitting: Fitting) -> None:
        """On the trained model, before it is evaluated on dev."""

    def save(self, run: Run, folder: Path) -> None:
        """Write the feature's files into the run folder being staged."""

    def load(self, run: Run, folder: Path) -> None:
        """Restore the feature's state on a run rebuilt from ``folder``."""

    def finish(self, run: Run, metrics: dict, folder: Path | None) -> None:
        """After the run is evaluated and written: ``metrics`` as saved (dev, test), ``folder`` the finished run
        folder (None when nothing was written)."""


def refuse_unserved(shape: TaskShape, uses: list[Use], where: str = "") -> None:
    """Refuse, in one message, every flag of ``uses`` whose declared shapes leave out ``shape``, with the shape's own
    reason (:attr:`~promptlearn.tasks.base.TaskShape.refusal`). The one rule for features (through
    :meth:`~promptlearn.run.config.RunConfig.check_shape`), modes and the commands that serve some shapes only
    (``--recipe auto``, ``--tasks``); ``where`` names what in the run has the shape (a task of several)."""
    refused = [flag for flag, shapes in uses if flag is not None and shapes is not None and shape.name not in shapes]
    if refused:
        raise PromptlearnError(
            f"{', '.join(refused)} cannot be used with --task-type {shape.name}{where}: {shape.refusal} "
            f"Leave {'it' if len(refused) == 1 else 'them'} out."
        )
