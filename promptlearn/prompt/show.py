"""How one example is rendered and tokenized under a prompt: what ``promptlearn show-pattern`` prints.

Text -> ids only: the tokenizer is the one model file read, and it is loaded by the caller (the backbone
stage comes after this one), once the example is found, so a bad ``--data`` is reported before it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from promptlearn.data.examples import Example, load_task_data
from promptlearn.errors import PromptlearnError
from promptlearn.prompt.pattern import Pattern
from promptlearn.prompt.presets import available_tasks, resolve_prompt
from promptlearn.prompt.pvp import PVP
from promptlearn.prompt.verbalizer import Verbalizer
from promptlearn.tasks import shape_for


def show_pattern(
    tokenizer: Callable[[], object], text: str, text_b: str | None, data: str | None, split: str, index: int,
    task: str | None, pattern: str | None, pattern_id: int | None, verbalizer: str | None, max_length: int,
    demonstrations: bool, demonstration_length: int, seed: int,
) -> list[str]:  # fmt: skip
    """The lines showing ``text`` / ``text_b`` (or ``data``'s example ``index`` of ``split``, whose label words are
    then checked against its labels) under the prompt of ``task`` / ``pattern`` / ``pattern_id`` / ``verbalizer``:
    its tokens within ``max_length``, the [MASK] and [SOFT] positions and each label word's ids.

    ``tokenizer`` loads the model's tokenizer. ``demonstrations``: one per label, drawn from ``data``'s train
    split with ``seed``, each ``demonstration_length`` tokens at most.
    """
    if pattern is None and task is None:
        raise PromptlearnError(
            "Give --pattern (e.g. '{text} It was [MASK] .'), or --task with a preset's name "
            f"({', '.join(available_tasks())}) to show that preset's pattern and label words"
            + ("; --data only supplies the example" if data else "")
        )
    pattern_text, words = resolve_prompt(task, pattern, pattern_id, verbalizer)
    parsed = Pattern.parse(pattern_text)
    verbal = Verbalizer.from_dict(words) if words else None
    example, labels = Example(text, text_b), ["?"]
    task_data = shape = None
    if data is not None:
        task_data = load_task_data(data)
        shape = shape_for(None, task_data)
        examples = task_data.split(split)
        if index >= len(examples):
            raise PromptlearnError(f"--index {index} is past the end: the {split!r} split has {len(examples)} examples")
        example, labels = examples[index], shape.labels_of(task_data)
    pvp = PVP(parsed, verbal, tokenizer(), max_length=max_length, labels=None if verbal else labels, shape=shape)
    if task_data is not None:
        pvp.check_data(task_data)
    if demonstrations:
        from promptlearn.prompt.demonstrations import Demonstrations

        if task_data is None:
            raise PromptlearnError("--demonstrations draws them from the training examples: give --data")
        pvp.demonstrations = Demonstrations(task_data.split("train"), length=demonstration_length, seed=seed)
        pvp.demonstrations.check(pvp, None)
    encoded = pvp.encode([dataclasses.replace(example, label=None)])[0]
    lines = [f"pattern:  {pattern_text}"]
    if data is not None:
        lines.append(f"example:  {data} [{split}] #{index}, label {example.label!r}")
    budget = f" + {len(pvp.labels)} demonstrations x {demonstration_length}" if demonstrations else ""
    # a multiple-choice example is one input per choice, the choice's tokens at its masks
    for choice, row in enumerate(encoded.choices or (encoded,)):
        tokens = pvp.tokens(row)
        if encoded.choices:
            ids = encoded.choice_tokens[choice]
            spelled = pvp.tokenizer.convert_ids_to_tokens(ids)
            lines.append(f"choice {choice}: {example.choices[choice]!r} -> {list(ids)} {spelled}")
        lines.append(f"tokens:   {len(tokens)} (max {max_length}{budget})")
        lines.append("  ".join(f"{i}:{tok}" for i, tok in enumerate(tokens)))
        count = len(encoded.choice_tokens[choice]) if encoded.choices else pvp.mask_count
        masks = range(row.mask_position, row.mask_position + count)
        lines.append(f"[MASK] at position{'s' if len(masks) > 1 else ''} {', '.join(map(str, masks))}")
    if pvp.mask_count > 1:
        lines.append(f"  {pvp.mask_count} masks, the longest label word's tokens; shorter words read the first ones")
    if encoded.soft_positions:
        lines.append(f"[SOFT] at positions {encoded.soft_positions}")
    if verbal:
        tokens_of = pvp.tokenizer.convert_ids_to_tokens
        for (label, label_words), word_ids in zip(verbal.label_words, pvp.label_word_tokens, strict=True):
            shown = ", ".join(
                f"{w} -> {ids[0]}" if len(ids) == 1 else f"{w} -> {ids} {tokens_of(ids)}"
                for w, ids in zip(label_words, word_ids, strict=True)
            )
            lines.append(f"label {label}: {shown}")
    return lines
