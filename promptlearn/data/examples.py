"""Datasets: load train/dev/test with the `datasets` library (few-shot sampling: :mod:`.sampling`).

``--data`` may be a folder of ``train``/``dev``/``test`` files (.jsonl, .json, .csv, .tsv), a
``save_to_disk`` folder, or a Hub dataset name. Every split becomes a list of :class:`Example`
with string labels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

from promptlearn.data.files import json_lines, load_raw, read_rows, rows_of
from promptlearn.errors import PromptlearnError

logger = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")
#: the column a multi-label file holds its label lists in, read when there is no ``label`` column
MULTI_LABEL_COLUMN = "labels"
#: the columns a multiple-choice file holds each example's choices and (optionally) its question in
CHOICES_COLUMN, QUESTION_COLUMN = "choices", "question"
#: splits whose every example must carry a label (test may be wholly unlabelled)
LABELLED_SPLITS = ("train", "dev")


@dataclass(frozen=True)
class Example:
    """One input: ``text_a``, optional ``text_b`` (pair tasks), and the label name (None if unknown);
    a multi-label example's label is the tuple of its label names, a regression example's its score as
    written (``"3.8"``). A multiple-choice example has ``choices`` and its label is the right one's index
    (``"1"``), with an optional ``question`` (COPA's "cause" / "effect")."""

    text_a: str
    text_b: str | None = None
    label: str | tuple[str, ...] | None = None
    question: str | None = None
    choices: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Columns:
    """Which columns of the source hold the text, the second text and the label.

    A label column of lists (or, with ``label_delimiter``, of strings split at it) gives multi-label
    examples; without a ``label`` column, a ``labels`` one is read.
    """

    text: str = "text"
    text_b: str = "text_b"
    label: str = "label"
    label_delimiter: str | None = None


@dataclass
class TaskData:
    """The splits of one task and its label names (sorted, unless a verbalizer fixes the order)."""

    splits: dict[str, list[Example]]
    labels: list[str]
    has_text_b: bool = False
    source: str = ""
    notes: list[str] = field(default_factory=list)

    def split(self, name: str) -> list[Example]:
        if name not in self.splits:
            raise PromptlearnError(f"The data in {self.source} has no {name!r} split (it has {sorted(self.splits)}).")
        return self.splits[name]


def load_task_data(source: str, columns: Columns = Columns()) -> TaskData:
    """Load every split found in ``source``; labels are the union of the labelled splits' labels."""
    splits = {
        name: _to_examples(rows, columns, origin, labels="required" if name in LABELLED_SPLITS else "all_or_none")
        for name, (rows, origin) in load_raw(source).items()
    }
    if not splits:
        raise PromptlearnError(f"No train/dev/test split found in {source}")
    labels = sorted({name for examples in splits.values() for ex in examples for name in _names_of(ex.label)})
    has_text_b = any(ex.text_b is not None for examples in splits.values() for ex in examples)
    return TaskData(splits=splits, labels=labels, has_text_b=has_text_b, source=source)


def load_examples(path: str | Path, columns: Columns = Columns(), pairs: bool = False) -> list[Example]:
    """Load one file (.jsonl/.json/.csv/.tsv) as examples; labels are optional.

    ``pairs``: every example needs a second text (the inputs of a run whose pattern has ``{text_b}``).
    """
    path = Path(path)
    if not path.is_file():
        raise PromptlearnError(f"Input file {path} does not exist")
    return _to_examples(read_rows(path), columns, str(path), labels="optional", pairs=pairs)


def read_inputs(path: Path | None, stdin, columns: Columns = Columns(), pairs: bool = False) -> list[Example]:
    """The examples ``predict`` reads: ``path``'s rows, else JSON lines on ``stdin``; none at all is an error."""
    if path is not None:
        examples = load_examples(path, columns, pairs)
    else:
        examples = parse_examples(stdin.read(), "stdin", columns, pairs)
    if not examples:
        raise PromptlearnError("No input examples: pass --input FILE or JSON lines on stdin")
    return examples


def parse_examples(text: str, origin: str, columns: Columns = Columns(), pairs: bool = False) -> list[Example]:
    """JSON lines (e.g. read from stdin) as examples, checked exactly as :func:`load_examples` checks a file."""
    records = json_lines(text, origin)
    if not records:
        return []
    return _to_examples(rows_of(records, origin), columns, origin, labels="optional", pairs=pairs)


def prediction_record(example: Example, labels: list[str], probabilities) -> dict:
    """What ``predict`` writes for one example: its text(s), gold label, predicted label and the
    probability of each label (rounded to 6 places); ``probabilities`` (C,) in ``labels`` order.

    Here rather than beside the model, so that the ONNX predictor writes the same records without torch.
    """
    record = {"text": example.text_a}
    if example.text_b is not None:
        record["text_b"] = example.text_b
    return record | {
        "gold": example.label,
        "predicted": labels[int(probabilities.argmax())],
        "probabilities": {label: round(float(p), 6) for label, p in zip(labels, probabilities, strict=True)},
    }


def _to_examples(rows, columns: Columns, origin: str, labels: str, pairs: bool = False) -> list[Example]:
    """Rows -> examples. ``labels``: "required" (every row), "all_or_none" or "optional".

    A null text, or a null label where labels are required, is refused naming the row: it would
    otherwise become the string "None" or fail in the middle of training. With ``pairs``, so is
    a missing second text, which a pair pattern would otherwise read as "".
    """
    names = set(rows.column_names)
    if columns.label == Columns.label and columns.label not in names and MULTI_LABEL_COLUMN in names:
        columns = replace(columns, label=MULTI_LABEL_COLUMN)
    if columns.text not in names:
        raise PromptlearnError(
            f"{origin}: no column {columns.text!r} (columns: {sorted(names)}). Name the text column with --text-column."
        )
    if pairs and columns.text_b not in names:
        raise PromptlearnError(
            f"{origin}: no column {columns.text_b!r} (columns: {sorted(names)}), but this run's pattern reads a "
            "second text. Name the second text's column with --text-b-column."
        )
    has_label = columns.label in names
    if labels == "required" and not has_label:
        raise PromptlearnError(
            f"{origin}: no column {columns.label!r} (columns: {sorted(names)}). "
            "Name the label column with --label-column."
        )
    label_names = _class_label_names(rows, columns.label) if has_label else None
    texts = rows[columns.text]
    texts_b = rows[columns.text_b] if columns.text_b in names else [None] * len(rows)
    gold = [None] * len(rows)
    if has_label:  # a ClassLabel's -1 marks a missing label (e.g. GLUE's test splits)
        gold = [_label_name(value, label_names, columns.label_delimiter) for value in rows[columns.label]]
        _refuse_empty(origin, columns.label, gold)
    _refuse_nulls(origin, columns.text, texts, "every example needs a text")
    if pairs:
        _refuse_nulls(origin, columns.text_b, texts_b, "this run's pattern reads a second text")
    elif any(t is not None for t in texts_b):
        _refuse_nulls(origin, columns.text_b, texts_b, "other rows have a second text")
    if labels == "required":
        _refuse_nulls(origin, columns.label, gold, "every train and dev example needs a label")
    elif labels == "all_or_none" and any(g is not None for g in gold):
        _refuse_nulls(origin, columns.label, gold, "a test split is labelled in every row or in none")
    if CHOICES_COLUMN in names:
        return _with_choices(rows, texts, texts_b, gold, origin)
    return [
        Example(text_a=str(text), text_b=None if text_b is None else str(text_b), label=label)
        for text, text_b, label in zip(texts, texts_b, gold, strict=True)
    ]


def _with_choices(rows, texts: list, texts_b: list, gold: list, origin: str) -> list[Example]:
    """Multiple-choice rows: each needs a list of choices (any number, at least two) and, when labelled, the
    index of the right one among them; a bad row is refused naming it."""
    choices = rows[CHOICES_COLUMN]
    questions = rows[QUESTION_COLUMN] if QUESTION_COLUMN in rows.column_names else [None] * len(rows)
    examples = []
    for row, (text, text_b, label, options, question) in enumerate(
        zip(texts, texts_b, gold, choices, questions, strict=True), start=1
    ):
        if not isinstance(options, list | tuple) or len(options) < 2 or any(o is None for o in options):
            raise PromptlearnError(
                f"{origin}: row {row} has {CHOICES_COLUMN!r} {options!r}; a multiple-choice example needs a list of "
                "at least two choices (row 1 is the first example)."
            )
        if label is not None and not (label.isdigit() and int(label) < len(options)):
            raise PromptlearnError(
                f"{origin}: row {row} has label {label!r}, but its {len(options)} choices are numbered 0 to "
                f"{len(options) - 1}; a multiple-choice label is the index of the right choice "
                "(row 1 is the first example)."
            )
        examples.append(
            Example(
                text_a=str(text),
                text_b=None if text_b is None else str(text_b),
                label=label,
                question=None if question is None else str(question),
                choices=tuple(str(o) for o in options),
            )
        )
    return examples


def _label_name(value, label_names: list[str] | None, delimiter: str | None = None) -> str | tuple[str, ...] | None:
    """A row's label: a name, a tuple of names (a list, or a string split at ``delimiter``), or None."""
    if isinstance(value, list | tuple):
        return tuple(dict.fromkeys(_label_name(item, label_names) for item in value))
    if value is None or (label_names is not None and value < 0):
        return None
    name = str(label_names[value] if label_names is not None else value)
    if delimiter is not None:
        return tuple(dict.fromkeys(part.strip() for part in name.split(delimiter) if part.strip()))
    return name


def _names_of(label: str | tuple[str, ...] | None) -> tuple[str, ...]:
    if label is None:
        return ()
    return (label,) if isinstance(label, str) else label


def _refuse_empty(origin: str, column: str, gold: list) -> None:
    """A multi-label row with no label at all is refused: it says nothing a K-shot sample could learn from."""
    empty = [i + 1 for i, label in enumerate(gold) if label == ()]
    if empty:
        raise PromptlearnError(
            f"{origin}: row {empty[0]} has an empty label list in column {column!r}"
            f"{f' ({len(empty)} such rows)' if len(empty) > 1 else ''}; every multi-label example needs at least "
            "one label (row 1 is the first example). Remove the row or give its labels."
        )


def _refuse_nulls(origin: str, column: str, values: list, why: str) -> None:
    missing = [i + 1 for i, value in enumerate(values) if value is None]
    if not missing:
        return
    if len(missing) == 1:
        where = f"row {missing[0]} has"
    else:
        where = f"rows {', '.join(map(str, missing[:5]))}{', ...' if len(missing) > 5 else ''} ({len(missing)}) have"
    raise PromptlearnError(
        f"{origin}: {where} no value in column {column!r} (null or absent; row 1 is the first example), "
        f"but {why}. Fill in or remove {'that row' if len(missing) == 1 else 'those rows'}."
    )


def _class_label_names(rows, column: str) -> list[str] | None:
    feature = rows.features.get(column)
    return list(feature.names) if hasattr(feature, "names") else None
