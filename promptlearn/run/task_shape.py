"""The run's task shape (:mod:`promptlearn.tasks`) as a run-level feature: ``--task-type`` and
``--label-delimiter``, the shape found in the data recorded in ``config.json``, and the shape's decision rule
(multi-label: the threshold) fitted on dev after training, stored in the run folder and restored on load.

Both options are saved only when set, so single-label runs write the ``config.json`` they always did.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

from promptlearn.errors import PromptlearnError
from promptlearn.outputs import write_json_atomic
from promptlearn.run.feature import Feature, Fitting, Run, RunSettings, option
from promptlearn.tasks import SHAPES, get_shape, shape_for
from promptlearn.tasks.base import DEFAULT_SHAPE

TASK_TYPE = option(
    None,
    f"The task shape: {', '.join(SHAPES)}; default: found in the data (a list of labels per row is multi-label).",
    saved="unless default",
)
LABEL_DELIMITER = option(
    None,
    "Multi-label data in one string column: the delimiter between an example's labels (e.g. ',').",
    saved="unless default",
)


class TaskShapeFeature(Feature):
    """Resolves the shape before the build, fits its decision rule on dev after training, saves and loads it."""

    options: ClassVar = {"task_type": ("str | None", TASK_TYPE), "label_delimiter": ("str | None", LABEL_DELIMITER)}

    def check(self, config: RunSettings) -> None:
        get_shape(config.task_type)  # refuses an unknown name
        if config.label_delimiter == "":
            raise PromptlearnError("--label-delimiter must not be empty")

    def prepare(self, fitting: Fitting) -> None:
        shape = shape_for(fitting.config.task_type, fitting.data)
        if shape.name != DEFAULT_SHAPE and fitting.config.task_type is None:
            fitting.config = fitting.config.replace(task_type=shape.name)  # so the run folder loads as it trained

    def after_fit(self, run: Run, fitting: Fitting) -> None:
        shape = run.pvp.shape
        if shape.decision_file is not None:
            gold = [e.label for e in run.pvp.encode(fitting.dev)]
            run.decision = shape.choose_decision(gold, run.predict_proba(fitting.dev))

    def save(self, run: Run, folder: Path) -> None:
        if run.decision is not None:
            write_json_atomic(folder / run.pvp.shape.decision_file, run.decision | {"chosen_on": "dev"})

    def load(self, run: Run, folder: Path) -> None:
        name = run.pvp.shape.decision_file
        if name is None:
            return
        if not (folder / name).is_file():
            raise PromptlearnError(f"{folder} has no {name}: the run did not finish; train it again")
        decision = json.loads((folder / name).read_text())
        decision.pop("chosen_on", None)
        run.decision = decision


FEATURE = TaskShapeFeature()
