"""Feature: a training length that follows the data (``--steps auto``), the same in ``train``, the API and ``fewshot``.

A budget counted in optimizer steps and tuned on 32-example binary tasks under-trains a 96-example 6-class task
(issue 29: the best dev checkpoint sat at one of the last two evaluations in 23 of 30 runs). With ``--steps
auto`` a run trains for ``--steps-epochs`` passes over its own train split, counted in optimizer steps and held
between a floor and a ceiling::

    steps = min(steps_max, max(steps_min, ceil(steps_epochs * ceil(N / (batch_size * grad_accum)))))

where N is the number of training examples the run drew (K per label times the labels, with ``--shots``).
The floor keeps a 2-class K = 8 run from stopping after a few dozen steps; the ceiling bounds a many-class task's
time. ``--patience`` still stops earlier when dev stops improving, and the best-on-dev weights are kept as always.
The rule and what it gave are in ``metrics.json`` (``budget``) and in the run's ``config.json`` (``max_steps``).
"""

from __future__ import annotations

import math
from typing import ClassVar

from promptlearn.errors import PromptlearnError
from promptlearn.run.feature import Feature, Fitting, RunSettings, option

AUTO = "auto"
STEPS = option(
    None,
    "'auto': train --steps-epochs passes over train, held within --steps-min/--steps-max.",
    omitted_at_default=True,
)
STEPS_EPOCHS = option(30.0, "With --steps auto: passes over the run's train split.", omitted_at_default=True)
STEPS_MIN = option(100, "With --steps auto: the fewest optimizer steps.", omitted_at_default=True)
STEPS_MAX = option(1000, "With --steps auto: the most optimizer steps.", omitted_at_default=True)


def auto_steps(examples: int, batch_size: int, grad_accum: int, epochs: float, floor: int, ceiling: int) -> int:
    """Optimizer steps for ``epochs`` passes over ``examples``, held within ``[floor, ceiling]`` (module docstring)."""
    per_epoch = math.ceil(examples / (batch_size * grad_accum))
    return min(ceiling, max(floor, math.ceil(epochs * per_epoch)))


class Budget(Feature):
    """``--steps auto``: the run's ``max_steps`` set from its train split's size before the model is built."""

    options: ClassVar = {
        "steps": ("str | None", STEPS),
        "steps_epochs": ("float", STEPS_EPOCHS),
        "steps_min": ("int", STEPS_MIN),
        "steps_max": ("int", STEPS_MAX),
    }

    def check(self, config: RunSettings) -> None:
        if config.steps not in (None, AUTO):
            raise PromptlearnError(f"--steps takes 'auto' (or nothing: --max-steps / --epochs), got {config.steps!r}")
        if config.steps_epochs <= 0 or config.steps_min < 1 or config.steps_max < config.steps_min:
            raise PromptlearnError(
                f"--steps auto needs --steps-epochs > 0 and 1 <= --steps-min <= --steps-max, got "
                f"{config.steps_epochs}, {config.steps_min} and {config.steps_max}"
            )
        if config.steps == AUTO and config.epochs is not None:
            raise PromptlearnError("--steps auto sets the training length: leave out --epochs (or --steps auto)")

    def prepare(self, fitting: Fitting) -> None:
        config = fitting.config
        if config.steps != AUTO:
            return
        steps = auto_steps(
            len(fitting.train), config.batch_size, config.grad_accum, config.steps_epochs, config.steps_min,
            config.steps_max,
        )  # fmt: skip
        fitting.config = config.replace(max_steps=steps)
        fitting.reports["budget"] = {
            "rule": f"{config.steps_epochs:g} epochs within [{config.steps_min}, {config.steps_max}] steps",
            "train_examples": len(fitting.train),
            "max_steps": steps,
        }


FEATURE = Budget()
