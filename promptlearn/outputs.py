"""Atomic, strict, reproducible output: a run folder appears whole or not at all; files are replaced,
never half-written; JSON is strict (no NaN); the same tensors give the same safetensors bytes.

Which folders a command may write or replace is one rule, :func:`check_output_free`, that every
command calls before it starts: only an empty folder or promptlearn's own, never an input or the
folders a user lives in. What a killed writer leaves beside its output goes with the next write
there (:func:`clean_stale`)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import socket
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


#: A promptlearn output folder holds ``.promptlearn-<kind>`` (an empty file: created in one step, so a
#: process that looks at the folder meanwhile sees it whole or not at all).
MARKER = ".promptlearn-"
RUN, EXPORT, PET, FEWSHOT, REPORT, PRETRAIN, DATA = "run", "export", "pet", "fewshot", "report", "pretrain", "data"
RECIPE = "recipe"  # a train --recipe auto folder, which the same command resumes
#: Folders written before the marker existed, recognised by files promptlearn writes together (any one set).
#: An exported model has none: it is a plain transformers folder, like the base models it must never replace.
OLDER_LAYOUTS = {
    RUN: (("config.json", "weights.safetensors"), ("record.json",)),
    PET: (("pipeline.json", "data"),),
    FEWSHOT: (("experiment.json", "runs"), ("experiment.json", "results.jsonl")),
    PRETRAIN: (("pretrain.json", "prompt.safetensors"), ("checkpoint.pt",)),
    REPORT: (("summary.md", "summary.csv"),),  # fewshot's --report folder, never marked (often a docs folder)
}
#: What a staging folder (:func:`staged_folder`) and a folder moved aside while it is replaced are called:
#: ``.<name>.<host>-<pid>.<random>.partial``, ``.<name>.<host>-<pid>.retired`` (for the instant of a swap) and
#: ``.<name>.<host>-<pid>.set-aside`` (for the whole of a restart, :func:`set_aside`).
_TRANSIENT = re.compile(
    r"^\.(?P<name>.+)\.(?P<host>[A-Za-z0-9-]+)-(?P<pid>\d+)\.(?P<what>[A-Za-z0-9_]+\.partial|retired|set-aside)$"
)


def check_output_free(
    output: str | Path,
    overwrite: bool,
    kind: str = RUN,
    inputs: dict[str, str | Path | None] | None = None,
    resume: bool = False,
) -> None:
    """The one rule for every folder a command writes, checked before any work starts. Raises if it is broken.

    ``output`` may be absent or empty; holding files, it must be promptlearn's own (:func:`own_kind`) and
    ``overwrite`` set, or (``resume``: a command that continues where it stopped) hold the same ``kind``.
    Never, even with ``overwrite``: the working directory or a folder above it, the home folder or a
    folder above it, or a folder that is or lies inside one of ``inputs`` (flag -> path, e.g.
    ``{"--model": ...}``; paths that do not exist locally, such as Hub names, are skipped), nor one that
    holds an input and may be replaced (``overwrite``, or not ``resume``).
    """
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise PromptlearnError(f"Output {output} exists and is not a folder")
    where = output.resolve()
    places = {"the working directory": Path.cwd().resolve()}
    with contextlib.suppress(RuntimeError, KeyError):  # no home folder known: nothing to protect there
        places["the home folder"] = Path.home().resolve()
    for what, place in places.items():
        if where == place or where in place.parents:
            above = "" if where == place else "a folder above "
            raise PromptlearnError(
                f"Output folder {output} is {above}{what}: promptlearn never writes into it. Give a new folder, "
                f"e.g. {output / 'run'}"
            )
    replaced = overwrite or not resume  # a folder written in place (resumed) may hold an input: it is not moved
    for flag, path in (inputs or {}).items():
        if path is not None and Path(path).exists():
            source = Path(path).resolve()
            if where == source or source in where.parents or (replaced and where in source.parents):
                raise PromptlearnError(
                    f"Output folder {output} overlaps {flag} {path} (it is that folder, lies inside it or holds "
                    "it): promptlearn never writes into its inputs. Give another output folder."
                )
    if not output.is_dir() or not any(output.iterdir()):
        return
    found = own_kind(output)
    if found is None:
        raise PromptlearnError(
            f"Output folder {output} is not empty and was not written by promptlearn; promptlearn replaces only "
            "its own folders, even with --overwrite. Give a new or empty folder."
        )
    if overwrite or (resume and found == kind):
        return
    if resume:
        again = "" if kind == FEWSHOT else ", or pass --overwrite to replace it"
        raise PromptlearnError(
            f"Output folder {output} holds a promptlearn {found} folder, not a {kind} one: give another folder{again}"
        )
    raise PromptlearnError(f"Output folder {output} is not empty; pass --overwrite to replace it")


def own_kind(folder: Path) -> str | None:
    """The kind of promptlearn output ``folder`` holds (its marker, or an older layout's files); None if not one."""
    marked = [p.name[len(MARKER) :] for p in folder.glob(f"{MARKER}*")]
    if marked:
        return marked[0]
    for kind, layouts in OLDER_LAYOUTS.items():
        if any(all((folder / name).exists() for name in names) for names in layouts):
            return kind
    return None


def mark_output(folder: Path, kind: str) -> None:
    """Mark ``folder`` (created if needed) as a promptlearn output of ``kind``, for :func:`check_output_free`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{MARKER}{kind}").touch()


def _owner() -> str:
    """This process as staging names carry it: ``<host>-<pid>`` (a pid alone means nothing on a shared disk)."""
    return f"{re.sub(r'[^A-Za-z0-9-]', '-', socket.gethostname())[:32]}-{os.getpid()}"


def _alive(host: str, pid: int) -> bool:
    """Whether the process that named a staging folder may still run (another host's: assume so)."""
    if host != _owner().rsplit("-", 1)[0]:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def clean_stale(parent: Path) -> None:
    """Remove what killed processes left in ``parent`` while writing a folder; never a live process's.

    A ``.partial`` staging folder is removed. A folder moved aside is put back when nothing took its
    place; else a ``.retired`` one (its replacement was complete) is removed and a ``.set-aside`` one
    (its replacement may be unfinished) is kept for the user to judge.
    """
    if not parent.is_dir():
        return
    for entry in parent.iterdir():
        match = _TRANSIENT.match(entry.name)
        if match is None or not entry.is_dir() or _alive(match["host"], int(match["pid"])):
            continue
        target = parent / match["name"]
        if match["what"].endswith(".partial") or (match["what"] == "retired" and target.exists()):
            shutil.rmtree(entry, ignore_errors=True)
        elif not target.exists():
            with contextlib.suppress(OSError):
                os.replace(entry, target)


@contextlib.contextmanager
def staged_folder(
    output: str | Path, overwrite: bool = False, kind: str = RUN, inputs: dict[str, str | Path | None] | None = None
) -> Iterator[Path]:
    """Yield a temporary sibling folder to write into; on success it replaces ``output`` whole.

    ``output`` must pass :func:`check_output_free` (before and after the work). On any error the
    temporary folder is removed and ``output`` is left as it was; a write error (``OSError``: disk
    full, permissions) becomes one :class:`PromptlearnError` line. Staging folders that killed
    processes left beside it are removed first (:func:`clean_stale`).
    """
    output = Path(output)
    check_output_free(output, overwrite, kind, inputs)
    output.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(output.parent)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.{_owner()}.", suffix=".partial", dir=output.parent))
    os.chmod(staging, 0o777 & ~_umask())
    try:
        yield staging
        mark_output(staging, kind)
        check_output_free(output, overwrite, kind, inputs)
        with _moved_aside(output):
            os.replace(staging, output)
    except OSError as err:  # disk full, permissions: the staged folder goes, the output stays as it was
        raise PromptlearnError(
            f"Could not write {output}: {err}. Nothing was written; free space or choose another output folder, "
            "and run the command again."
        ) from None
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


@contextlib.contextmanager
def set_aside(output: Path) -> Iterator[None]:
    """Move ``output`` aside while the body writes a new one in its place; delete the old one only once the
    body succeeded, and put it back (dropping the unfinished new one) when it fails."""
    with _moved_aside(output, "set-aside", restore=True):
        yield


@contextlib.contextmanager
def _moved_aside(output: Path, what: str = "retired", restore: bool = False) -> Iterator[None]:
    """Move ``output`` aside for the body; afterwards delete it, or (on failure) put it back where nothing
    took its place, or (``restore``) in place of whatever did."""
    aside = output.with_name(f".{output.name}.{_owner()}.{what}")
    if output.exists():
        os.replace(output, aside)
    try:
        yield
    except BaseException:
        if aside.exists():
            if restore:
                shutil.rmtree(output, ignore_errors=True)
            if not output.exists():
                os.replace(aside, output)
        raise
    shutil.rmtree(aside, ignore_errors=True)
