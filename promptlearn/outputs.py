"""Atomic, strict, reproducible output: a run folder appears whole or not at all; files are replaced,
never half-written; JSON is strict (no NaN); the same tensors give the same safetensors bytes."""

from __future__ import annotations

import contextlib
import json
import math
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
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def to_json(value, indent: int | None = 2, name: str = "JSON") -> str:
    """Strict JSON text of ``value``: every JSON promptlearn writes goes through here.

    NaN and infinities are refused (``json.dumps`` would write ``NaN``, which is not JSON and which
    other tools reject): a non-finite number means something upstream went wrong. ``name`` (e.g.
    the file) is what the error says was not written.
    """
    try:
        return json.dumps(value, indent=indent, ensure_ascii=False, allow_nan=False)
    except ValueError:
        where = _non_finite(value)
        if where is None:
            raise
        raise PromptlearnError(
            f"Refusing to write {name}: {where}, not a finite number (JSON has no NaN or infinity)"
        ) from None


def _non_finite(value, where: str = "value") -> str | None:
    """Where the first NaN or infinity in nested dicts and lists is, and what it is (None if there is none)."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"{where} is {value}"
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list | tuple) else ()
    for key, item in items:
        found = _non_finite(item, f"{where}[{key!r}]")
        if found is not None:
            return found
    return None


def write_json_atomic(path: str | Path, value) -> None:
    write_text_atomic(path, to_json(value, name=str(path)) + "\n")


def write_safetensors_atomic(path: str | Path, tensors: dict, metadata: dict[str, str] | None = None) -> None:
    """Save ``tensors`` (name -> contiguous CPU tensor) atomically, byte for byte the same for the same input.

    safetensors writes its JSON header (the metadata and the tensor table) in hash-map order, which
    changes from process to process; the header is rewritten with sorted keys, padded to 8 bytes as
    the format requires. The tensor bytes and their offsets are untouched.
    """
    from safetensors.torch import save

    data = save(tensors, metadata=metadata)
    size = int.from_bytes(data[:8], "little")
    header = json.dumps(json.loads(data[8 : 8 + size]), sort_keys=True, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    write_bytes_atomic(path, len(header).to_bytes(8, "little") + header + data[8 + size :])


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


def check_writable(output: str | Path) -> None:
    """Raise unless files can be created where ``output`` will be written (checked before any work).

    Probes the nearest folder that exists on the way to ``output`` with a temporary file, so a
    read-only, full or mistyped location fails at once, not after training.
    """
    output = Path(output).absolute()
    probe = output if output.is_dir() else output.parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise PromptlearnError(f"Cannot write {output}: {probe} is a file, not a folder. Choose another --output.")
    try:
        handle, name = tempfile.mkstemp(prefix=".promptlearn-probe.", dir=probe)
        os.close(handle)
        os.unlink(name)
    except OSError as err:
        raise PromptlearnError(f"Cannot write {output}: {err}. Choose another --output.") from None
