"""Find and read the split files behind ``--data``; every way a file can be unreadable gets one message.

:func:`find_splits` only looks at the file system (no ``datasets`` import), so the CLI can check
``--data`` before loading any heavy library; :func:`load_raw` then reads the rows.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from promptlearn.errors import PromptlearnError
from promptlearn.hub import is_local_path, require_hub

SPLIT_ALIASES = {"train": ("train",), "dev": ("dev", "validation", "val"), "test": ("test",)}
SUFFIXES = {".jsonl": "json", ".json": "json", ".csv": "csv", ".tsv": "csv"}
SAVE_TO_DISK = "dataset_dict.json"


def find_splits(source: str) -> dict[str, Path] | None:
    """The split files of a local ``--data`` folder; None for a save_to_disk folder or a Hub name.

    Raises when ``source`` is a local path that is not a folder of split files.
    """
    path = Path(source)
    if path.is_file():
        raise PromptlearnError(
            f"--data takes a folder, and {source} is a file. Put it in a folder as train{path.suffix} "
            f"(with dev{path.suffix} and test{path.suffix} beside it) and pass the folder."
        )
    if not path.is_dir():
        if is_local_path(source):
            raise PromptlearnError(f"Data folder {source} does not exist")
        return None
    if (path / SAVE_TO_DISK).is_file():
        return None
    files = {}
    for split, aliases in SPLIT_ALIASES.items():
        found = [path / f"{alias}{suffix}" for alias in aliases for suffix in SUFFIXES]
        found = [f for f in found if f.is_file()]
        if len(found) > 1:
            raise PromptlearnError(
                f"{source} has {len(found)} files for the {split} split: {' and '.join(map(str, found))}. "
                "Keep one of them (move the others out of the folder)."
            )
        if found:
            files[split] = found[0]
    if not files:
        raise PromptlearnError(
            f"{source} has no train/dev/test file: expected e.g. train.jsonl, dev.jsonl, test.jsonl "
            f"(also .json, .csv, .tsv; 'validation' is accepted for dev), or a save_to_disk folder."
        )
    return files


def load_raw(source: str) -> dict[str, tuple[object, str]]:
    """Each split's rows (a ``datasets.Dataset``) with the file or name to cite in messages about them."""
    files = find_splits(source)
    if files is not None:
        return {split: (read_rows(file), str(file)) for split, file in files.items()}
    import datasets

    if Path(source).is_dir():
        try:
            loaded = datasets.load_from_disk(source)
        except (OSError, ValueError, KeyError) as err:  # a split folder or its metadata missing or damaged
            raise PromptlearnError(
                f"Could not read the save_to_disk folder {source}: {_reasons(err)}. Save the dataset again "
                "(DatasetDict.save_to_disk), or copy the whole folder."
            ) from err
    else:
        require_hub("dataset", source)
        loaded = datasets.load_dataset(source)
    return {split: (rows, f"{source} [{split}]") for split, rows in _rename_splits(dict(loaded), source).items()}


def _rename_splits(loaded: dict, source: str) -> dict[str, object]:
    out = {}
    for split, aliases in SPLIT_ALIASES.items():
        for alias in aliases:
            if alias in loaded:
                out[split] = loaded[alias]
                break
    if not out:
        raise PromptlearnError(f"Dataset {source} has splits {sorted(loaded)}, none of train/dev/validation/test")
    return out


def read_rows(path: Path):
    """One .jsonl/.json/.csv/.tsv file as a ``datasets.Dataset``; refuses files that are not UTF-8 or hold no rows."""
    builder = SUFFIXES.get(path.suffix.lower())
    if builder is None:
        raise PromptlearnError(f"{path}: unsupported file type; use .jsonl, .json, .csv or .tsv")
    _check_text(path)
    import datasets

    kwargs = {"delimiter": "\t"} if path.suffix.lower() == ".tsv" else {}
    library_log = logging.getLogger("datasets")
    level = library_log.level
    library_log.setLevel(logging.CRITICAL)  # a failure is reported below, once, as our message
    try:
        return datasets.load_dataset(builder, data_files=str(path), split="train", **kwargs)
    except Exception as err:  # the datasets library raises many types for a malformed file
        raise PromptlearnError(f"Could not read {path}: {_reasons(err)}") from err
    finally:
        library_log.setLevel(level)


def _check_text(path: Path) -> None:
    data = path.read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise PromptlearnError(
            f"{path} is UTF-16 text; promptlearn reads UTF-8. Convert it, e.g. "
            f"`iconv -f UTF-16 -t UTF-8 {path} > {path}.utf8 && mv {path}.utf8 {path}`."
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise PromptlearnError(
            f"{path} is not UTF-8 text: byte 0x{data[err.start]:02x} on line {line} (offset {err.start}) is "
            f"{err.reason}. Convert the file from the encoding it was written in, e.g. "
            f"`iconv -f LATIN1 -t UTF-8 {path} > {path}.utf8 && mv {path}.utf8 {path}` "
            "(CP1252 for files from Excel on Windows)."
        ) from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        what = "empty" if not text else "only blank lines"
        raise PromptlearnError(f"{path} is {what}: a split file needs at least one example (one per line)")
    if len(lines) == 1 and SUFFIXES[path.suffix.lower()] == "csv":
        raise PromptlearnError(f"{path} has a header line but no examples: add rows, or remove the file")
    if path.suffix.lower() == ".jsonl":
        json_lines(text, str(path))


def json_lines(text: str, origin: str) -> list[dict]:
    """The objects of JSON-lines ``text`` (blank lines skipped); a line that is not an object names ``origin``."""
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise PromptlearnError(
                f"{origin}, line {number}: not valid JSON ({err.msg} at column {err.colno}). "
                'Each line of a .jsonl file is one JSON object, e.g. {"text": "...", "label": "..."}.'
            ) from None
        if not isinstance(row, dict):
            raise PromptlearnError(
                f"{origin}, line {number}: a JSON {type(row).__name__}, not an object. "
                'Each line of a .jsonl file is one JSON object, e.g. {"text": "...", "label": "..."}.'
            )
        rows.append(row)
    return rows


def rows_of(records: list[dict], origin: str):
    """``records`` (JSON objects) as a ``datasets.Dataset``, a field absent from a row read as null there,
    so that rows from a stream pass the same checks as rows from a file."""
    import datasets

    names = list(dict.fromkeys(name for record in records for name in record))
    try:
        return datasets.Dataset.from_dict({name: [record.get(name) for record in records] for name in names})
    except Exception as err:  # pyarrow raises several types for values that do not form one column
        raise PromptlearnError(f"Could not read {origin}: {_reasons(err)}") from err


def _reasons(err: BaseException) -> str:
    """The messages of ``err`` and the errors that caused it: datasets wraps the real reason."""
    reasons = []
    while err is not None:
        message = str(err).strip() or type(err).__name__
        if message not in reasons:
            reasons.append(message)
        err = err.__cause__ or err.__context__
    return ": ".join(reasons)
