"""Feature: ``--contrastive-weight w``, the supervised contrastive term at [MASK] (Jian, Gao & Vosoughi, NAACL 2022).

``loss = task + w * SupCon`` over :data:`~promptlearn.training.supcon.VIEW_COUNT` views of every example of a
training batch (the loss: :mod:`promptlearn.training.supcon`). Here the run makes the views
(:class:`Views`): each is the example encoded under a pattern drawn from its task's preset patterns
(``patterns``), with a demonstration draw drawn from the run's (``demonstrations``), or both, as the paper draws
a random template and random demonstrations for each view; ``dropout`` alone keeps the input and lets dropout
noise alone tell the views apart (as SimCSE). Every view also gets dropout noise, as training runs in train mode.
"""

from __future__ import annotations

import dataclasses
import random
from typing import TYPE_CHECKING, ClassVar

from promptlearn.errors import PromptlearnError
from promptlearn.run.feature import Feature, Fitting, Run, RunSettings, option

if TYPE_CHECKING:
    from promptlearn.data.examples import Example
    from promptlearn.model.prompt_model import PromptModel
    from promptlearn.prompt.pvp import PVP, Encoded

#: what may tell two views of an example apart
VIEW_KINDS = ("patterns", "demonstrations", "dropout")

CONTRASTIVE_WEIGHT = option(
    0.0,
    "w > 0: loss = task + w SupCon on the [MASK] states of two views of each example (Jian et al. 2022; cloze modes).",
    omitted_at_default=True,
)
CONTRASTIVE_TEMPERATURE = option(
    0.07, "[--contrastive-weight] SupCon's temperature (the paper's, after Khosla et al.).", omitted_at_default=True
)
CONTRASTIVE_VIEWS = option(
    "patterns",
    "[--contrastive-weight] What differs between views, comma-separated: 'patterns' (the --task's preset "
    "patterns), 'demonstrations' (other draws; needs --demonstrations), 'dropout' (only dropout noise).",
    omitted_at_default=True,
)


def view_kinds(value: str) -> set[str]:
    """``--contrastive-views`` as a set of :data:`VIEW_KINDS`; refuses an unknown or empty one."""
    kinds = {part.strip() for part in value.split(",") if part.strip()}
    unknown = sorted(kinds - set(VIEW_KINDS))
    if unknown or not kinds:
        raise PromptlearnError(
            f"--contrastive-views takes a comma-separated list of {', '.join(VIEW_KINDS)}, got {value!r}"
        )
    return kinds


def view_patterns(config: RunSettings, pvp: PVP, model: PromptModel) -> list[PVP]:
    """A PVP per preset pattern of ``config.task``, adapted by the run's mode, with the run's words."""
    from promptlearn.prompt.pattern import Pattern
    from promptlearn.prompt.presets import task_patterns
    from promptlearn.prompt.pvp import PVP

    pvps = []
    for preset in task_patterns(config.task):
        pattern = model.mode.adapt_pattern(Pattern.parse(preset.pattern))
        if pattern.soft_count != pvp.pattern.soft_count:
            raise PromptlearnError(
                f"--contrastive-views patterns: pattern {preset.id} of task {config.task!r} has "
                f"{pattern.soft_count} soft tokens under mode {config.mode!r}, the run's pattern "
                f"{pvp.pattern.soft_count}. Give --contrastive-views dropout or demonstrations."
            )
        view = PVP(pattern, pvp.verbalizer, pvp.tokenizer, pvp.max_length, pvp.labels)
        view.max_positions = pvp.max_positions
        pvps.append(view)
    return pvps


def _key(encoded: Encoded) -> tuple:
    return (encoded.mask_position, *encoded.input_ids)


class Views:
    """The run's collate, plus :data:`~promptlearn.training.supcon.VIEWS` on batches of training examples.

    A batch is recognised by its encodings (the pipeline encodes ``train`` as :meth:`__init__` does); other
    batches (evaluation) are collated as before. Each view of example i draws a pattern and a demonstration
    draw with a generator seeded by the run's seed; every (pattern, draw) encodes the whole train split once.
    """

    def __init__(self, run: Run, train: list[Example], kinds: set[str]):
        self.pvp, self.train = run.pvp, train
        self.rows = {_key(e): i for i, e in enumerate(run.pvp.encode(train))}
        self.pvps = [run.pvp]
        if "patterns" in kinds:
            self.pvps = view_patterns(run.config, run.pvp, run.model)
            demonstrations = run.pvp.demonstrations
            for view in self.pvps:  # a copy each: it renders demonstrations in the view's pattern, as LM-BFF does
                view.demonstrations = None if demonstrations is None else dataclasses.replace(demonstrations)
        self.draws = run.config.demonstration_sets if "demonstrations" in kinds else 1
        self.encoded: dict[tuple[int, int], list[Encoded]] = {}
        self.random = random.Random(f"contrastive/{run.config.seed}")
        self.collate_batch = run.trainer.collate

    def __call__(self, batch: list[Encoded]) -> dict:
        from promptlearn.training.supcon import VIEW_COUNT, VIEWS

        out = self.collate_batch(batch)
        rows = [self.rows.get(_key(e)) for e in batch]
        if None not in rows:
            out[VIEWS] = self.pvp.collate([self.view(i) for _ in range(VIEW_COUNT) for i in rows])
        return out

    def view(self, row: int) -> Encoded:
        """Train example ``row`` under a drawn pattern and demonstration draw."""
        drawn = (self.random.randrange(len(self.pvps)), self.random.randrange(self.draws))
        if drawn not in self.encoded:
            self.encoded[drawn] = self.pvps[drawn[0]].encode(self.train, draw=drawn[1])
        return self.encoded[drawn][row]


def check_reaches_training(run: Run, train: list[Example]) -> None:
    """Refuse a mode that trains nothing before the [MASK] state (mlm_head: only the head after it), where the
    term would change nothing: the state of two training examples must depend on a trained parameter."""
    import torch

    from promptlearn.training.supcon import mask_states

    device = next(run.model.parameters()).device
    batch = {k: v.to(device) for k, v in run.pvp.collate(run.pvp.encode(train[:2])).items()}
    with torch.enable_grad():
        depends = mask_states(run.model, batch).requires_grad
    if not depends:
        raise PromptlearnError(
            f"--contrastive-weight trains the [MASK] states, but mode {run.config.mode!r} trains nothing they "
            "depend on (only what reads them): the term would change nothing. Use a mode that tunes the encoder "
            "or its inputs (pet, soft_prompt, ptuning, lora, ...)."
        )


class Contrastive(Feature):
    """``--contrastive-weight w``: the objective adds SupCon on views of each training example."""

    options: ClassVar = {
        "contrastive_weight": ("float", CONTRASTIVE_WEIGHT),
        "contrastive_temperature": ("float", CONTRASTIVE_TEMPERATURE),
        "contrastive_views": ("str", CONTRASTIVE_VIEWS),
    }
    shapes: ClassVar = ("single",)  # it pulls together the examples of one class

    def used(self, config: RunSettings) -> str | None:
        return "--contrastive-weight" if config.contrastive_weight else None

    def check(self, config: RunSettings) -> None:
        if config.contrastive_weight < 0:
            raise PromptlearnError(f"--contrastive-weight must be >= 0, got {config.contrastive_weight}")
        if config.contrastive_temperature <= 0:
            raise PromptlearnError(f"--contrastive-temperature must be positive, got {config.contrastive_temperature}")
        kinds = view_kinds(config.contrastive_views)
        if not config.contrastive_weight:
            return
        if "patterns" in kinds and config.task is None:
            raise PromptlearnError(
                "--contrastive-views patterns draws the views' patterns from the task's presets, but this run has "
                "no --task. Give --task, or --contrastive-views dropout."
            )
        if "demonstrations" in kinds and not config.demonstrations:
            raise PromptlearnError(
                "--contrastive-views demonstrations draws other demonstrations for each view: give --demonstrations"
            )

    def objective(self, fitting: Fitting, pvp: PVP, model: PromptModel) -> dict:
        from promptlearn.training.supcon import SupervisedContrastive

        config = fitting.config
        if not config.contrastive_weight:
            return {}
        if model.label_words is None:
            raise PromptlearnError(
                f"--contrastive-weight contrasts the states at [MASK], but mode {config.mode!r} reads none "
                "(it has a classification head). Use a cloze mode or readout (e.g. --mode-opt readout=cloze)."
            )
        return {"contrastive": SupervisedContrastive(config.contrastive_weight, config.contrastive_temperature)}

    def setup(self, run: Run, fitting: Fitting) -> None:
        if run.config.contrastive_weight:
            check_reaches_training(run, fitting.train)
            run.trainer.collate = Views(run, fitting.train, view_kinds(run.config.contrastive_views))


FEATURE = Contrastive()
