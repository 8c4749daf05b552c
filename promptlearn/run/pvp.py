"""A run's mode and PVP from its settings: the text side of a run, without loading any weights.

Apart from :mod:`promptlearn.run.prompted` (which builds the model on it) so that the label-word search,
a feature that RunConfig imports, can build its PVP without importing RunConfig back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from promptlearn.backbone.loading import load_tokenizer
from promptlearn.data.examples import TaskData
from promptlearn.errors import PromptlearnError
from promptlearn.modes import Mode, get_mode
from promptlearn.prompt.pattern import Pattern
from promptlearn.prompt.pvp import PVP
from promptlearn.prompt.verbalizer import Verbalizer
from promptlearn.tasks import shape_for

if TYPE_CHECKING:
    from promptlearn.run.feature import Use
    from promptlearn.tasks.base import TaskShape


class PromptSettings(Protocol):
    """What :func:`build_pvp` reads of a run's configuration (a :class:`~promptlearn.run.config.RunConfig`)."""

    model: str
    pattern: str
    verbalizer: dict[str, list[str]] | None
    labels: list[str] | None
    mode: str
    mode_options: dict
    max_length: int
    verbalizer_search: dict | None
    task_type: str | None

    def check_shape(self, shape: TaskShape, also: tuple[Use, ...] = ()) -> None: ...


def build_pvp(config: PromptSettings, data: TaskData | None = None, tokenizer=None) -> tuple[Mode, PVP]:
    """The mode and PVP of ``config``, checked against ``data`` when given; reads the tokenizer, not the weights."""
    mode = get_mode(config.mode).from_options(config.mode_options)
    pattern = mode.adapt_pattern(Pattern.parse(config.pattern))
    verbalizer = None
    shape = shape_for(config.task_type, data)
    config.check_shape(shape, also=((f"--mode {mode.name}", mode.shapes),))
    if shape.choices_are_words and not mode.uses_verbalizer:
        raise PromptlearnError(
            f"Mode {mode.name!r} classifies with a head, but a {shape.name} run reads each choice at [MASK]: "
            "use a mode that reads words at the mask (pet, mlm_head, the prompt modes, or readout=cloze)."
        )
    if mode.uses_verbalizer and not shape.choices_are_words:
        if not config.verbalizer and config.verbalizer_search is None:
            raise PromptlearnError(f"Mode {mode.name!r} reads label words at [MASK]: give --verbalizer or --task")
        verbalizer = Verbalizer.from_dict(config.verbalizer) if config.verbalizer else None  # else: searched in fit
    labels = config.labels or (verbalizer.labels if verbalizer else (shape.labels_of(data) if data else None))
    tokenizer = tokenizer if tokenizer is not None else load_tokenizer(config.model)
    pvp = PVP(pattern, verbalizer, tokenizer, max_length=config.max_length, labels=labels, shape=shape)
    if data is not None:
        pvp.check_data(data)
    shape.check_run(pvp)
    return mode, pvp
