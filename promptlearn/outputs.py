"""Atomic output: a run folder appears whole or not at all; files are replaced, never half-written."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from promptlearn.errors import PromptlearnError


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_json_atomic(path: str | Path, value) -> None:
    write_text_atomic(path, json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def check_output_free(output: str | Path, overwrite: bool) -> None:
    """Raise if ``output`` holds files and ``overwrite`` is not set (checked before any work starts)."""
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise PromptlearnError(f"Output {output} exists and is not a folder")
    if output.is_dir() and any(output.iterdir()) and not overwrite:
        raise PromptlearnError(f"Output folder {output} is not empty; pass --overwrite to replace it")


@contextlib.contextmanager
def staged_folder(output: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling folder to write into; on success it replaces ``output`` whole.

    On any error the temporary folder is removed and ``output`` is left as it was.
    """
    output = Path(output)
    check_output_free(output, overwrite)
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".partial", dir=output.parent))
    os.chmod(staging, 0o777 & ~_umask())
    try:
        yield staging
        check_output_free(output, overwrite)
        if output.exists():
            retired = output.with_name(f".{output.name}.old-{os.getpid()}")
            os.replace(output, retired)
            os.replace(staging, output)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, output)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
