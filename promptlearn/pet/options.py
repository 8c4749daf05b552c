"""From command-line values to a :class:`PetConfig`: patterns by preset id or text, the base run config."""

from __future__ import annotations

from promptlearn.errors import PromptlearnError
from promptlearn.pet.config import PetConfig
from promptlearn.prompt.presets import resolve_prompt, task_patterns
from promptlearn.run.config import RunConfig


def split_list(values: str | None, cast=str) -> list | None:
    """A comma-separated flag as a list: ``"a, b,"`` -> ``["a", "b"]`` (each item through ``cast``); None stays None."""
    return None if values is None else [cast(v.strip()) for v in values.split(",") if v.strip()]


def resolve_patterns(
    task: str | None, pattern_ids: list[int] | None, patterns: list[str] | None
) -> tuple[list[str], list[int | None]]:
    """Pattern texts and preset ids: ``patterns`` as given, else ``task``'s presets ``pattern_ids`` (default: all)."""
    if patterns and pattern_ids:
        raise PromptlearnError("Give --patterns (preset ids of --task) or --pattern (texts), not both")
    if patterns:
        return list(patterns), [None] * len(patterns)
    if task is None:
        raise PromptlearnError("Give --task with --patterns 0,1,2 (its preset ids), or one --pattern per pattern")
    presets = {p.id: p.pattern for p in task_patterns(task)}
    ids = pattern_ids if pattern_ids else list(presets)
    unknown = [i for i in ids if i not in presets]
    if unknown:
        raise PromptlearnError(f"Task {task!r} has no pattern id {unknown[0]}; ids: {', '.join(map(str, presets))}")
    return [presets[i] for i in ids], list(ids)


def pet_config(
    model: str, data: str, task: str | None, pattern_ids: list[int] | None, patterns: list[str] | None,
    verbalizer: str | None, run: dict, pet: dict,
) -> PetConfig:  # fmt: skip
    """The pipeline's config: ``run`` holds RunConfig fields of every component, ``pet`` PetConfig's own."""
    texts, ids = resolve_patterns(task, pattern_ids, patterns)
    _, words = resolve_prompt(task, texts[0], None, verbalizer)
    base = RunConfig(model=model, data=data, pattern=texts[0], verbalizer=words, task=task, **run)
    return PetConfig(base=base, patterns=texts, pattern_ids=ids, **pet)
