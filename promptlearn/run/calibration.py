"""Calibration of class probabilities: estimate the prompt's bias, divide it out, renormalise.

A prompt and its label words favour some labels whatever the input (bert-tiny's SST-2 prompt
says ``great`` more often than ``terrible``). Both estimates below are a mean class distribution
``bias`` (C,); calibrated probabilities are ``p / bias``, renormalised to sum to 1, so an input that
looks like the average one gets the uniform distribution.

- ``content-free`` (Zhao et al., 2021, "Calibrate before use"): the mean over the content-free
  inputs ``N/A``, the empty string and the mask token, each put in every text slot of the pattern.
- ``unlabeled`` (OpenPrompt's ``calibrate``): the mean over unlabeled texts (train texts, their
  labels dropped).

The vector is estimated on the finished model (after training) and stored in the run folder as
``calibration.json``, keyed by label name, so label order cannot drift. The run-level feature
(:class:`Calibration`) estimates it after training, saves it and loads it back.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import numpy as np

from promptlearn.data.examples import Example
from promptlearn.errors import PromptlearnError
from promptlearn.outputs import write_json_atomic
from promptlearn.run.feature import Feature, Fitting, Run, RunSettings, option
from promptlearn.run.unlabeled import unlabeled_pool

#: how class probabilities are calibrated
CALIBRATIONS = ("none", "content-free", "unlabeled")
CALIBRATE = option("none", "Divide out the prompt's label bias: none, content-free or unlabeled.")
FILE = "calibration.json"
#: the unlabeled estimate reads at most this many texts (a seeded sample when there are more)
UNLABELED_SAMPLE = 512


def check_method(method: str) -> None:
    if method not in CALIBRATIONS:
        raise PromptlearnError(f"--calibrate must be one of {', '.join(CALIBRATIONS)}, got {method!r}")


def content_free_inputs(mask_token: str, pair: bool) -> list[Example]:
    """Zhao et al.'s content-free inputs; pair tasks get the same one in both slots."""
    return [Example(text, text if pair else None) for text in ("N/A", "", mask_token)]


def unlabeled_inputs(examples: list[Example], seed: int = 0) -> list[Example]:
    """``examples`` without labels (at most :data:`UNLABELED_SAMPLE`, a seeded sample)."""
    if len(examples) > UNLABELED_SAMPLE:
        examples = random.Random(seed).sample(examples, UNLABELED_SAMPLE)
    return [Example(ex.text_a, ex.text_b) for ex in examples]


def estimate(
    method: str,
    predict_proba: Callable[[list[Example]], np.ndarray],
    unlabeled: list[Example],
    mask_token: str,
    pair: bool,
) -> np.ndarray | None:
    """The bias vector (C,) of ``method`` (None for ``none``): mean uncalibrated probabilities.

    ``predict_proba`` maps examples to uncalibrated class probabilities (N, C); ``unlabeled`` is
    read only by the ``unlabeled`` method.
    """
    check_method(method)
    if method == "none":
        return None
    inputs = content_free_inputs(mask_token, pair) if method == "content-free" else unlabeled_inputs(unlabeled)
    if not inputs:
        raise PromptlearnError("--calibrate unlabeled needs unlabeled texts, and the train split is empty")
    return predict_proba(inputs).astype(np.float64).mean(axis=0)


def apply(probs: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """Probabilities (N, C) divided by ``bias`` (C,) and renormalised; unchanged when ``bias`` is None."""
    if bias is None:
        return probs
    scaled = probs / np.clip(bias, 1e-12, None)
    return (scaled / scaled.sum(axis=1, keepdims=True)).astype(probs.dtype)


def save(folder: Path, method: str, labels: list[str], bias: np.ndarray) -> None:
    write_json_atomic(
        Path(folder) / FILE,
        {"method": method, "bias": {label: float(p) for label, p in zip(labels, bias, strict=True)}},
    )


def load(folder: Path, method: str, labels: list[str]) -> np.ndarray | None:
    """The stored bias of a run trained with ``--calibrate method``, in ``labels`` order (None for ``none``)."""
    if method == "none":
        return None
    path = Path(folder) / FILE
    if not path.is_file():
        raise PromptlearnError(f"{folder} was trained with --calibrate {method} but has no {FILE}: train it again")
    stored = json.loads(path.read_text(encoding="utf-8"))
    bias = stored.get("bias", {})
    if stored.get("method") != method or set(bias) != set(labels):
        raise PromptlearnError(f"{path} does not match the run's config (--calibrate {method}, labels {labels})")
    return np.array([bias[label] for label in labels], dtype=np.float64)


def calibrate(run: Run, unlabeled: list[Example]) -> None:
    """Estimate ``run.config.calibrate``'s bias vector on the model as it is now and set it on ``run``.

    ``unlabeled``: texts for the ``unlabeled`` method (their labels are not read).
    """
    run.calibration = None
    run.calibration = estimate(
        run.config.calibrate,
        run.predict_proba,
        unlabeled,
        run.pvp.tokenizer.mask_token,
        "text_b" in run.pvp.pattern.fields,
    )


class Calibration(Feature):
    """``--calibrate``: estimated on the trained model, stored as :data:`FILE`, applied by every prediction."""

    options: ClassVar = {"calibrate": ("str", CALIBRATE)}
    shapes: ClassVar = ("single",)  # the bias it divides out is a mean distribution over the classes

    def check(self, config: RunSettings) -> None:
        check_method(config.calibrate)

    def used(self, config: RunSettings) -> str | None:
        return None if config.calibrate == "none" else "--calibrate"

    def after_fit(self, run: Run, fitting: Fitting) -> None:
        # unlabeled calibration reads texts the model did not train on (its training texts when there are none)
        unlabeled = []
        if run.config.calibrate == "unlabeled":
            used = fitting.train + fitting.dev
            unlabeled = unlabeled_pool(run.config, fitting.data, used, UNLABELED_SAMPLE)
        calibrate(run, unlabeled or fitting.train)

    def save(self, run: Run, folder: Path) -> None:
        if run.calibration is not None:
            save(folder, run.config.calibrate, run.pvp.labels, run.calibration)

    def load(self, run: Run, folder: Path) -> None:
        run.calibration = load(folder, run.config.calibrate, run.pvp.labels)


FEATURE = Calibration()
