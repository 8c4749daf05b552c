"""From command-line values to a run: the checks that need no model, ``train``'s RunConfig, mode options.

Nothing here imports torch or a model library at module level, so a bad pattern or path is reported
before any of them loads.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from promptlearn.data.examples import Columns
from promptlearn.errors import PromptlearnError
from promptlearn.run.config import RunConfig
from promptlearn.run.feature import UNSAVED

#: the RunConfig fields naming the data files' columns, which evaluate and predict take over a run's
COLUMN_FIELDS = ("text_column", "text_b_column", "label_column")


def check_sources(
    model: str | None, data: str | None, output: Path | None = None, overwrite: bool = False, kind: str | None = None
) -> None:
    """The checks that need no model or data library (so they fail at once): paths and the output folder, a run's
    (or, ``kind`` given, that kind's, which the command resumes: a recipe's)."""
    from promptlearn.data.files import find_splits
    from promptlearn.hub import check_local_model
    from promptlearn.outputs import RUN, check_output_free, check_writable

    if model is not None:
        check_local_model(model)
    if data is not None:
        find_splits(data)
    if output is not None:
        inputs = {"--model": model, "--data": data}
        check_output_free(output, overwrite, kind or RUN, inputs, resume=kind is not None)
        check_writable(output)


def mode_options(mode: str, pairs: list[str] | None, flags: dict) -> dict:
    """The per-mode ``flags`` that were given (not None), plus ``--mode-opt key=value`` pairs typed for ``mode``.

    The modes (and so torch) are imported only when there are pairs to type, so that without
    ``--mode-opt`` a bad pattern or path is still reported before torch loads.
    """
    given = {key: value for key, value in flags.items() if value is not None}
    if not pairs:
        return given
    from promptlearn.modes import get_mode
    from promptlearn.modes.options import parse_mode_options

    extra = parse_mode_options(get_mode(mode), pairs)
    both = sorted(set(given) & set(extra))
    if both:
        raise PromptlearnError(f"{', '.join(both)} given both as a flag and as --mode-opt; give it once")
    return given | extra


def train_config(
    config: Path | None, model: str | None, data: str | None, task: str | None, pattern: str | None,
    pattern_id: int | None, verbalizer: str | None, settings: dict, pairs: list[str] | None, flags: dict,
) -> RunConfig:  # fmt: skip
    """``train``'s run: a saved ``config`` (anchored at its working_dir, with the unsaved options given), or one
    built from the values given.

    ``settings`` holds the RunConfig options given, ``pairs`` the ``--mode-opt`` pairs and ``flags`` the mode
    flags; ``verbalizer`` "auto" searches the label words on the run's own train/dev split.
    """
    from promptlearn.prompt.presets import resolve_prompt

    if config is not None:
        # the options a config.json never holds (where the run is reported) still come from the command line
        saved = RunConfig.load(config)
        unsaved = {item.name for item in dataclasses.fields(RunConfig) if UNSAVED in item.metadata}
        run_config = saved.replace(**{name: value for name, value in settings.items() if name in unsaved})
    else:
        if model is None or data is None:
            raise PromptlearnError("Give --model and --data (or --config with a saved config.json)")
        search = verbalizer == "auto"
        pattern_text, words = resolve_prompt(task, pattern, pattern_id, None if search else verbalizer)
        mode = settings.get("mode", RunConfig.mode)
        run_config = RunConfig(
            model=model, data=data, pattern=pattern_text, verbalizer=words, task=task, pattern_id=pattern_id,
            **settings, verbalizer_search={} if search else None, mode_options=mode_options(mode, pairs, flags),
        )  # fmt: skip
    if run_config.working_dir is not None:  # a saved config's relative paths count from its working_dir
        run_config = run_config.anchored()
    return run_config


def with_columns(base: Columns, given: dict) -> Columns:
    """``base`` with the columns ``given`` (RunConfig's column fields, by name) replaced."""
    names = {name: name.removesuffix("_column") for name in COLUMN_FIELDS}
    return dataclasses.replace(base, **{names[key]: value for key, value in given.items()})
