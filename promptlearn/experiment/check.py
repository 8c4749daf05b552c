"""Check every run's prompt (pattern + verbalizer) against its data and tokenizer before the first run.

A typo'd label or a label word the tokenizer splits would otherwise fail each run, one by one, after
the grid had started. Only tokenizers are read (no model weights), each dataset once.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from promptlearn import api
from promptlearn.backbone.loading import load_tokenizer
from promptlearn.data.examples import TaskData
from promptlearn.errors import PromptlearnError
from promptlearn.experiment.config import RunSpec


def check_prompts(specs: list[RunSpec], data_of: Callable[[RunSpec], TaskData]) -> None:
    """Raise one error naming every problem of every task (every bad label word, not only the first)."""
    tokenizers, checked, problems = {}, set(), {}
    for spec in specs:
        config = spec.config
        key = (spec.task, config.mode, json.dumps(config.mode_options, sort_keys=True), config.pattern)
        # a transfer run is its target's fresh run (checked) started from a source run not trained yet
        if key in checked or spec.transfer_from is not None:
            continue
        checked.add(key)
        if config.model not in tokenizers:
            tokenizers[config.model] = load_tokenizer(config.model)
        try:
            api.build_pvp(config, data_of(spec), tokenizers[config.model])
        except PromptlearnError as err:
            problems.setdefault(f"task {spec.task}: {err}", None)  # one line per distinct problem, in grid order
    if problems:
        raise PromptlearnError(
            "The experiment's prompts do not fit its data or tokenizer; nothing was run:\n"
            + "\n".join(f"- {problem}" for problem in problems)
        )
