"""The task-shape interface and its registry.

A task shape ("task type") is one unit: what a label is, how it becomes a training target, how class
scores (B, C) become a loss, probabilities and a decision, the metrics, how a prediction is written to
``predictions.jsonl`` and how a K-shot sample is drawn. The rest of the pipeline asks the run's shape and
never tests a shape's name, as it never tests a mode's.

Adding a shape is one module here that subclasses :class:`TaskShape` and calls :func:`register_shape`,
plus its import in ``tasks/__init__.py``. What a new shape implements:

- :meth:`TaskShape.detect`: whether loaded data is of this shape (so ``--task-type`` may be left out);
- :meth:`TaskShape.target`: an example's label -> ``Encoded.label`` (an int, or a tuple the collate
  stacks into a tensor), :meth:`TaskShape.loss` and :meth:`TaskShape.probabilities` on scores (B, C), and
  :meth:`TaskShape.soft_loss` on soft targets (distillation); :meth:`TaskShape.head_outputs`: a head's width;
- :meth:`TaskShape.choose_decision` (a rule fitted on dev and stored in the run folder, or None),
  :meth:`TaskShape.metrics`, :meth:`TaskShape.record` and :meth:`TaskShape.record_metrics`;
- :meth:`TaskShape.few_shot`: the K-shot (train, dev) split, the same in ``train`` and ``fewshot``;
- :meth:`TaskShape.check_run`: refuse a run its PVP cannot serve (e.g. multi-token words), with one message;
- :attr:`TaskShape.refusal`: the one sentence saying why what serves single-label classification does not serve
  it. Which features, modes and commands serve a shape they declare themselves (``shapes``), and
  :func:`promptlearn.run.feature.refuse_unserved` checks them in one place: a shape names none of them.

torch is imported inside the methods that need it: the data side (sampling, records, metrics) runs without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from promptlearn.errors import PromptlearnError

if TYPE_CHECKING:
    import torch

    from promptlearn.data.examples import Example, TaskData

#: the shape of a run that names none and whose data detect no other
DEFAULT_SHAPE = "single"
#: how a metric of a shape is named to a reader (progress lines, report tables, plots, captions)
METRIC_LABELS = {
    "accuracy": "accuracy", "macro_f1": "macro-F1", "micro_f1": "micro-F1", "samples_f1": "samples-F1",
    "subset_accuracy": "subset accuracy", "pearson": "Pearson", "spearman": "Spearman", "mse": "MSE",
}  # fmt: skip


def metric_label(name: str) -> str:
    """``name`` (a metrics key, e.g. ``micro_f1``) as a reader knows it (``micro-F1``)."""
    return METRIC_LABELS.get(name, name.replace("_", " "))


class TaskShape:
    """One task shape; see the module docstring for what a new one implements."""

    name: ClassVar[str]
    #: the dev metric the trainer keeps the best checkpoint by (higher is better)
    selection_metric: ClassVar[str] = "accuracy"
    #: whether averaging members' probabilities (a PET ensemble) is a meaningful prediction
    averages: ClassVar[bool] = True
    #: the run-folder file the fitted decision rule is stored in (None: the shape has none)
    decision_file: ClassVar[str | None] = None
    #: the test metrics a few-shot report shows, headline first, each in its own summary column (None: accuracy
    #: and macro-F1, with the top-class share and the majority-class baseline; a shape whose labels are not
    #: one class per example names its own); a search ranks candidates by the first two on dev
    report_metrics: ClassVar[tuple[str, ...] | None] = None
    #: whether a label is a name among the run's labels (regression's is a score, checked by :meth:`check_data`)
    labels_are_names: ClassVar[bool] = True
    #: whether ``promptlearn pet`` (its pool files, members' labels, iPET and distillation) serves this shape
    serves_pet: ClassVar[bool] = True
    #: the words read at the mask come from each example (multiple choice: its choices), not a verbalizer
    choices_are_words: ClassVar[bool] = False
    #: whether iPET (hard pool labels drawn per class, keeping the class distribution) serves this shape
    serves_ipet: ClassVar[bool] = True
    #: how a PET ensemble merges its members: their log-probabilities (PET's logits, softened by a temperature
    #: into soft targets that sum to 1), or their probabilities as they are (per-label probabilities, a score's
    #: pole distribution: the averaged prediction, learned at temperature 1)
    merges_probabilities: ClassVar[bool] = False
    #: whether a soft target (``--soft-labels``) is a distribution over the labels (multi-label: one
    #: probability per label, each in [0, 1])
    soft_targets_sum_to_one: ClassVar[bool] = True
    #: why what declares it serves other shapes only (calibration, ``--recipe auto``, ...) does not serve this one,
    #: one sentence about what this shape's labels are (:func:`promptlearn.run.feature.refuse_unserved` quotes it)
    refusal: ClassVar[str] = "it serves other task shapes only."

    def bind(self, labels: list[str]) -> TaskShape:
        """This shape for a run whose labels are ``labels`` (regression: the range they name); default: itself."""
        return self

    def labels_of(self, data: TaskData) -> list[str]:
        """The label names a run on ``data`` has when no verbalizer names them (a head mode's outputs)."""
        return data.labels

    def check_data(self, pvp, data: TaskData) -> None:
        """Raise if ``data``'s labels do not fit the run's PVP; default: the verbalizer names exactly its labels."""
        if pvp.verbalizer is not None:
            pvp.verbalizer.check_labels(data.labels)

    def detect(self, data: TaskData) -> bool:
        """Whether ``data``'s labels are of this shape (consulted when the run names no ``--task-type``)."""
        return False

    def target(self, label, index: dict[str, int]):
        """``Encoded.label`` of an example's label (None: unlabelled); ``index`` maps label names to columns."""
        raise NotImplementedError

    def loss(self, scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Scores (B, C) and the collated targets -> the task loss (a scalar)."""
        raise NotImplementedError

    def probabilities(self, scores: torch.Tensor) -> torch.Tensor:
        """Scores (B, C) -> probabilities (B, C)."""
        raise NotImplementedError

    def soft_loss(self, scores: torch.Tensor, targets: torch.Tensor, temperature: float) -> torch.Tensor:
        """Scores (B, C) against soft targets (B, C) (distillation): the KL from the targets to the scores softened
        by ``temperature``, times T² so that gradients keep their scale whatever T (Hinton et al. 2015)."""
        import torch
        from torch import nn

        log_probs = torch.log_softmax(scores / temperature, dim=-1)
        return nn.functional.kl_div(log_probs, targets.float(), reduction="batchmean") * temperature * temperature

    def head_outputs(self, num_labels: int) -> int:
        """The outputs of a head (head modes, ``readout=cls``) for a run with ``num_labels`` labels: one per label."""
        return num_labels

    def choose_decision(self, gold: list, probabilities: np.ndarray) -> dict | None:
        """The decision rule fitted on dev (``gold``: the dev targets, ``probabilities`` (N, C)), or None."""
        return None

    def metrics(self, gold: list, probabilities: np.ndarray, num_labels: int, decision: dict | None = None) -> dict:
        """Metrics of probabilities (N, C) against targets ``gold``; ``decision`` as :meth:`choose_decision` made
        it (None: the shape's own choice on these examples, as the trainer's checkpoint selection uses)."""
        raise NotImplementedError

    def record(self, example: Example, labels: list[str], probabilities, decision: dict | None) -> dict:
        """The ``predictions.jsonl`` line of one example; ``probabilities`` (C,) in ``labels`` order."""
        raise NotImplementedError

    def pool_label(self, probabilities, labels: list[str], decision: dict | None):
        """The hard label a PET ensemble's probabilities (C,) give an unlabelled example, written beside its soft
        label in the distilled model's data (which learns the soft one); default: the most probable label."""
        return labels[int(np.argmax(probabilities))]

    def record_metrics(self, records: list[dict], labels: list[str]) -> dict:
        """The metrics of :meth:`record` lines that all carry a gold label."""
        raise NotImplementedError

    def few_shot(
        self, data: TaskData, shots: int | None, seed: int, dev_split: str
    ) -> tuple[list[Example], list[Example]]:
        """The run's (train, dev) examples: a K-shot sample with ``shots``, else the full splits."""
        raise NotImplementedError

    def check_run(self, pvp) -> None:
        """Refuse, with one message, a run whose PVP this shape cannot serve (its words, its labels)."""


SHAPES: dict[str, TaskShape] = {}


def register_shape(shape: TaskShape) -> TaskShape:
    SHAPES[shape.name] = shape
    return shape


def get_shape(name: str | None) -> TaskShape:
    """The shape called ``name`` (None: the default, single-label)."""
    name = DEFAULT_SHAPE if name is None else name
    if name not in SHAPES:
        raise PromptlearnError(f"--task-type must be one of {', '.join(SHAPES)}, got {name!r}")
    return SHAPES[name]


def shape_for(name: str | None, data: TaskData | None) -> TaskShape:
    """The shape a run named, else the first whose :meth:`TaskShape.detect` accepts ``data``, else single-label."""
    if name is not None or data is None:
        return get_shape(name)
    detected = [shape for shape in SHAPES.values() if shape.name != DEFAULT_SHAPE and shape.detect(data)]
    return detected[0] if detected else get_shape(None)
