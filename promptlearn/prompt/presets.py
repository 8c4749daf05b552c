"""Task presets: patterns from ``templates/<task>.yaml`` and label words from ``verbalizers/<task>.yaml``.

A template file lists patterns with ids and their source in the literature::

    patterns:
      - id: 0
        pattern: "{text} It was [MASK] ."
        source: LM-BFF (Gao et al., 2021), Table 1

A verbalizer file maps each label name to its words (see :mod:`promptlearn.prompt.verbalizer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from promptlearn.errors import PromptlearnError
from promptlearn.prompt.pattern import Pattern
from promptlearn.prompt.verbalizer import Verbalizer


def preset_root() -> Path:
    """Folder holding ``templates/`` and ``verbalizers/``: inside the installed package or the checkout."""
    installed = Path(__file__).parents[1] / "_presets"
    return installed if installed.is_dir() else Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class PatternPreset:
    id: int
    pattern: str
    source: str


def available_tasks() -> list[str]:
    return sorted(p.stem for p in (preset_root() / "templates").glob("*.yaml"))


def task_patterns(task: str) -> list[PatternPreset]:
    """All patterns of ``task``, in file order."""
    path = preset_root() / "templates" / f"{task}.yaml"
    if not path.is_file():
        raise PromptlearnError(f"No preset for task {task!r}; known tasks: {', '.join(available_tasks())}")
    content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    presets = []
    for entry in content.get("patterns", []):
        preset = PatternPreset(id=int(entry["id"]), pattern=str(entry["pattern"]), source=str(entry.get("source", "")))
        Pattern.parse(preset.pattern, origin=f"{path} (id {preset.id})")
        presets.append(preset)
    if not presets:
        raise PromptlearnError(f"{path} lists no patterns")
    return presets


def task_pattern(task: str, pattern_id: int | None = None) -> PatternPreset:
    """Pattern ``pattern_id`` of ``task`` (the first one when None)."""
    presets = task_patterns(task)
    if pattern_id is None:
        return presets[0]
    for preset in presets:
        if preset.id == pattern_id:
            return preset
    raise PromptlearnError(
        f"Task {task!r} has no pattern id {pattern_id}; ids: {', '.join(str(p.id) for p in presets)}"
    )


def task_verbalizer(task: str) -> Verbalizer:
    path = preset_root() / "verbalizers" / f"{task}.yaml"
    if not path.is_file():
        raise PromptlearnError(f"No verbalizer preset for task {task!r} ({path} is missing)")
    return Verbalizer.from_file(path)


def preset_words(task: str) -> dict[str, list[str]] | None:
    """The label words of ``task``'s verbalizer file; None for a task without one (multiple choice: its choices
    are the words)."""
    if not (preset_root() / "verbalizers" / f"{task}.yaml").is_file():
        return None
    return task_verbalizer(task).to_dict()


def resolve_prompt(
    task: str | None, pattern: str | None, pattern_id: int | None, verbalizer: str | None
) -> tuple[str, dict[str, list[str]] | None]:
    """The pattern text and verbalizer words to use: explicit ones override the task's preset.

    A task without a verbalizer file (multiple choice: its choices are the words) gives no words."""
    if pattern is None and task is None:
        raise PromptlearnError("Give --pattern (e.g. 'It was [MASK].') or --task NAME to use a preset")
    if pattern_id is not None and task is None:
        raise PromptlearnError("--pattern-id selects a preset pattern: give --task too")
    preset = task_pattern(task, pattern_id) if task is not None else None  # checks the task even when unused
    resolved_pattern = pattern if pattern is not None else preset.pattern
    Pattern.parse(resolved_pattern)
    if verbalizer is not None:
        words = Verbalizer.parse(verbalizer).to_dict()
    elif task is not None:
        words = preset_words(task)
    else:
        words = None
    return resolved_pattern, words
