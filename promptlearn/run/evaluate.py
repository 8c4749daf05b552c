"""Evaluate and predict from plain values: an untrained model zero-shot, or a trained run folder with overrides.

What ``promptlearn evaluate`` and ``predict`` do once their options are parsed. The model libraries are
imported inside the functions, after the paths are checked, so a bad path is reported before torch loads.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from promptlearn.errors import PromptlearnError
from promptlearn.run.config import RunConfig, flag
from promptlearn.run.options import COLUMN_FIELDS, check_sources, with_columns

#: the RunConfig fields ``evaluate`` takes over a run's (a zero-shot evaluation takes them as its own)
EVALUATE_OVERRIDES = ("max_length", "decoding", "calibrate", *COLUMN_FIELDS)
#: those a run cannot take: it keeps the token budget and calibration it was trained with
RUN_FIXED = ("max_length", "calibrate")


def evaluate(
    run: Path | None, model: str | None, data: str | None, split: str, task: str | None, pattern: str | None,
    pattern_id: int | None, verbalizer: str | None, settings: dict, overrides: dict,
    predictions: Path | None, allow_other_base: bool, loader: Callable | None = None,
) -> dict:  # fmt: skip
    """Accuracy and macro-F1 on ``data``'s (default: the run's data) ``split``: of the trained ``run``, or, without
    one, of ``model`` zero-shot with the prompt of ``task`` / ``pattern`` / ``pattern_id`` / ``verbalizer``.

    ``settings``: RunConfig fields of a zero-shot run; ``overrides``: the :data:`EVALUATE_OVERRIDES` given
    (a run takes only its decoding and columns). ``predictions``: also write per-example predictions there.
    ``loader(run, allow_other_base)`` loads ``run`` (default :func:`~promptlearn.run.folder.load_run`; one task of
    a multi-task folder: :func:`promptlearn.multitask.loading.task_loader`).
    Returns ``{"split", "examples", **metrics}``.
    """
    from promptlearn.prompt.presets import resolve_prompt

    columns = {key: value for key, value in overrides.items() if key in COLUMN_FIELDS}
    decoding = overrides.get("decoding")
    if run is not None:
        given = {"model": model, "task": task, "pattern": pattern, "pattern_id": pattern_id, "verbalizer": verbalizer}
        given |= {key: overrides.get(key) for key in RUN_FIXED}
        clashing = ", ".join(flag(name) for name, value in given.items() if value is not None)
        if clashing:
            raise PromptlearnError(
                f"{clashing} cannot be combined with --run: a run is evaluated with the base model, "
                f"pattern and label words it was trained with ({run / 'config.json'}). Leave out "
                f"{clashing}, or leave out --run to evaluate a model zero-shot."
            )
        check_sources(None, data)
        from promptlearn.run.recipe import load_run

        prompted = (loader or load_run)(run, allow_other_base)
        config = prompted.config
    else:
        if model is None or data is None:
            raise PromptlearnError("Give --run (a trained run folder), or --model and --data for zero-shot")
        pattern_text, words = resolve_prompt(task, pattern, pattern_id, verbalizer)
        fixed = {key: overrides[key] for key in RUN_FIXED if key in overrides}
        config = RunConfig(
            model=model, data=data, pattern=pattern_text, verbalizer=words, task=task, pattern_id=pattern_id,
            **settings, **fixed,
        )  # fmt: skip
        check_sources(model, data)
    from promptlearn.data.examples import load_task_data
    from promptlearn.run.calibration import calibrate
    from promptlearn.run.folder import metrics_of, write_predictions
    from promptlearn.run.prompted import build

    task_data = load_task_data(data or config.data, with_columns(config.columns(), columns))
    if run is None:
        prompted = build(config, task_data)
        calibrate(prompted, task_data.splits.get("train", []))
    else:
        prompted.pvp.check_fields(task_data)
    if decoding is not None:
        from promptlearn.run.recipe import member_runs

        for member in member_runs(prompted):  # a recipe's members each score their label words
            member.model.decoding = config.replace(decoding=decoding).decoding  # replace() validates it
    examples = task_data.split(split)
    if any(ex.label is None for ex in examples):
        raise PromptlearnError(f"The {split!r} split has unlabelled examples: evaluation needs a label on every one")
    records = prompted.predict(examples)
    if predictions is not None:
        write_predictions(predictions, records)
    return {"split": split, "examples": len(examples), **metrics_of(records, prompted.pvp.labels, prompted.pvp.shape)}


def predict(
    run: Path, input: Path | None, columns: dict, allow_other_base: bool, stdin: TextIO, loader: Callable | None = None
) -> list[dict]:
    """One record (text, predicted, probabilities) per example of ``input`` (a data file), or of the JSON lines
    on ``stdin`` without one, predicted by the trained ``run``; ``columns``: the column fields given over the
    run's; ``loader`` as :func:`evaluate`'s."""
    if input is not None and not input.is_file():
        raise PromptlearnError(f"Input file {input} does not exist")
    from promptlearn.data.examples import read_inputs
    from promptlearn.run.recipe import load_run

    prompted = (loader or load_run)(run, allow_other_base)
    names = with_columns(prompted.config.columns(), columns)
    pairs = "text_b" in prompted.pvp.pattern.fields
    return prompted.predict(read_inputs(input, stdin, names, pairs))
