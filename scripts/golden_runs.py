"""Golden run folders: a fixed set of tiny CLI runs whose output folders must stay byte-identical.

Issue 21 moves every module of the library without changing behaviour. This script pins what
"without changing behaviour" means for outputs: it runs a fixed set of commands on the tiny offline
fixture model and tasks (tests/helpers/fixtures.py) through the CLI, so flags are covered too, and digests
every file each run writes. ``record`` writes the reference (tests/golden/run_digests.json, committed);
``check`` re-runs everything and names, per run folder, the files that differ (for JSON files and
safetensors headers, the keys and values; for tensors, their names), exiting 1 on any difference.
tests/test_golden_runs.py runs ``check`` in CI. ``--keep DIR`` leaves the run folders in DIR to look at.

    PYTHONPATH=. OMP_NUM_THREADS=1 python3 scripts/golden_runs.py check      # ~25 s on one core
    PYTHONPATH=. OMP_NUM_THREADS=1 python3 scripts/golden_runs.py record

When a change is *meant* to alter outputs (a new field in config.json, a fixed bug that changes a
number), re-record and say in the commit message which runs changed and why: the reference is a
record of decisions, not a snapshot to refresh whenever it fails.

A digest is each file's sha256 after normalising what differs between two runs of the same code on
the same machine, and nothing else:

- timings: ``wall_seconds`` (metrics.json, results.jsonl, PET's summary.json) and pretrain.json's
  ``wall_seconds_this_session`` become ``<timing>``, as do the seconds columns of PET's summary.md
  and fewshot's summary.md/.csv (``seconds``, ``s/run``, ``wall_seconds``), the ``seconds`` cells of its
  report.html, and PET's wall-time line;
- the temporary folder the runs are made in becomes ``<WORK>`` wherever it is written: config.json's
  ``model``/``data``/``working_dir``, the command a summary quotes, and the ``base_model`` path in
  every safetensors header (so a safetensors file is digested as its header plus each tensor's bytes);
- fewshot's run ``fingerprint`` hashes the run's settings, that folder's path included, so it
  cannot be un-placed: it becomes a placeholder (the settings themselves are compared in config.json).

Two ``record`` runs in fresh processes, with different PYTHONHASHSEEDs, write byte-identical
references. The bytes depend on the torch build and the CPU kernels it picks, so the reference
records the versions it was made with; the test skips (saying so) where they differ, and ``check``
notes it. The runs are made on the CPU, one thread, with ``--precision fp32``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import io
import json
import os
import platform
import re
import struct
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO / "tests" / "golden" / "run_digests.json"

#: JSON keys whose values are wall-clock times
TIMING_KEYS = {"wall_seconds", "wall_seconds_this_session"}
#: JSON keys whose values hash settings that hold the work folder's path: (key, placeholder)
PATH_HASHES = {"fingerprint": "<hash of the settings, work folder's path included>"}
#: markdown/CSV column headers that hold wall-clock times (pet's summary.md, fewshot's summary.md/.csv)
TIMING_COLUMN = re.compile(r"seconds|^s/run$")
#: table cells of fewshot's report.html that hold wall-clock seconds
TIMING_CELL = re.compile(r'(<td class="seconds">)[^<]*(</td>)')
#: the sentence pet's summary.md ends with
WALL_TIME_LINE = re.compile(r"(Wall time of this invocation: )[0-9.]+( s\.)")
TIMING = "<timing>"
WORK = "<WORK>"

PATTERN = "{text} it was [MASK] ."
VERBALIZER = "positive=great,negative=terrible"
#: every training run: 2 shots per label from the pool task, 3 steps, one dev evaluation, fp32 on CPU
TRAIN = ["--shots", "2", "--max-steps", "3", "--eval-every", "2", "--batch-size", "4", "--precision", "fp32"]
#: options a mode needs to run at this size (ppt's pretrained prompt is added in :func:`plan`)
MODE_ARGS = {
    "soft_prompt": ["--prompt-length", "2"],
    "ptuning": ["--prompt-length", "2"],
    "ptuning_v2": ["--prompt-length", "2"],
}
#: every registered mode (qlora runs on CPU with bitsandbytes >= 0.46, a dev dependency)
MODES = [
    "pet", "mlm_head", "soft_prompt", "ptuning", "ptuning_v2", "ppt",
    "head", "bitfit", "finetune", "lora", "qlora", "adapter", "setfit",
]  # fmt: skip
#: pet with each run-level feature, and readouts beside the label words: (name, extra train options)
VARIANTS = [
    ("pet-calibrate-content-free", ["--mode", "pet", "--calibrate", "content-free"]),
    ("pet-calibrate-unlabeled", ["--mode", "pet", "--calibrate", "unlabeled"]),
    ("pet-demonstrations", ["--mode", "pet", "--demonstrations", "--demonstration-sets", "2",
                            "--demonstration-length", "16", "--similar-demonstrations", "--max-length", "24"]),
    ("pet-aux-mlm", ["--mode", "pet", "--aux-mlm-weight", "0.5"]),
    ("lora-warp", ["--mode", "lora", "--readout", "warp"]),
    ("soft_prompt-cls", ["--mode", "soft_prompt", "--prompt-length", "2", "--readout", "cls"]),
]  # fmt: skip


@dataclass
class Run:
    """One command: ``args`` for the CLI; ``output`` is the folder it writes (relative to the work folder),
    or None when what it prints is the output (``stdout`` then stands for it in the digest)."""

    name: str
    args: list[str]
    output: str | None = None
    input: str | None = None


def plan(work: Path) -> list[Run]:
    """The fixed list of runs, in order (ppt needs the pretrained prompt, export and evaluate a trained run)."""
    model, pool = str(work / "model"), str(work / "pool")
    task = ["--model", model, "--data", pool, "--pattern", PATTERN, "--verbalizer", VERBALIZER, "--quiet"]
    runs = [
        Run("pretrain-prompt", ["pretrain-prompt", "--model", model, "--corpus", str(work / "corpus.txt"),
            "--format", "sentence-pair", "--prompt-length", "2", "--steps", "4", "--batch-size", "4",
            "--max-length", "48", "--eval-every", "2", "--checkpoint-every", "2", "--heldout-every", "5",
            "--heldout-size", "8", "--precision", "fp32", "--output", "pretrain-prompt"], "pretrain-prompt"),
    ]  # fmt: skip
    for mode in MODES:
        extra = MODE_ARGS.get(mode, []) + (["--prompt", str(work / "pretrain-prompt")] if mode == "ppt" else [])
        runs.append(train(f"train-{mode}", [*task, *TRAIN, "--mode", mode, *extra]))
    for name, extra in VARIANTS:
        runs.append(train(f"train-{name}", [*task, *TRAIN, *extra]))
    runs += [
        # distillation: soft labels for every train example, so no --shots (it would sample them away)
        train("train-pet-soft-labels", [*task, "--max-steps", "3", "--eval-every", "2", "--batch-size", "4",
              "--precision", "fp32", "--soft-labels", str(work / "soft_labels.jsonl"), "--temperature", "2"]),
        Run("evaluate-pet", ["evaluate", "--run", str(work / "train-pet"), "--split", "test"]),
        Run("predict-pet", ["predict", "--run", str(work / "train-pet")],
            input='{"text": "it was fun"}\n{"text": "the film was awful"}\n'),
        Run("export-lora", ["export", str(work / "train-lora"), "export-lora", "--merge"], "export-lora"),
        Run("pet-pipeline", ["pet", "--model", model, "--data", pool, "--pattern", PATTERN, "--pattern",
            "[MASK] : {text}", "--verbalizer", VERBALIZER, "--shots", "2", "--repetitions", "1", "--generations",
            "1", "--max-unlabeled", "8", "--max-steps", "2", "--final-steps", "2", "--eval-every", "1",
            "--batch-size", "4", "--precision", "fp32", "--quiet", "--output", "pet-pipeline"], "pet-pipeline"),
        Run("fewshot", ["fewshot", "--config", str(work / "fewshot.yaml")], "fewshot"),
    ]  # fmt: skip
    return runs


def train(name: str, args: list[str]) -> Run:
    return Run(name, ["train", *args, "--output", name], name)


def prepare_inputs(work: Path) -> None:
    """The model, task, corpus, soft labels and experiment YAML every run reads, all inside ``work``."""
    import yaml

    from tests.helpers.fixtures import POOL_TASK, save_tiny_model, write_corpus, write_task

    save_tiny_model(work / "model", "bert")
    write_task(work / "pool", POOL_TASK | {"dev": POOL_TASK["test"]})
    write_corpus(work / "corpus.txt", documents=12)
    # one label distribution per train example, leaning to its gold label (a teacher's soft labels)
    leaning = {"positive": [0.8, 0.2], "negative": [0.3, 0.7]}
    (work / "soft_labels.jsonl").write_text("".join(json.dumps(leaning[r["label"]]) + "\n" for r in POOL_TASK["train"]))
    experiment = {
        "model": str(work / "model"),
        "output": "fewshot",
        "report": "fewshot/report",
        "tasks": [{"name": "toy", "data": str(work / "pool"), "patterns": [PATTERN, "[MASK] : {text}"],
                   "verbalizer": {"positive": ["great"], "negative": ["terrible"]}}],
        "modes": ["pet", "bitfit"],
        "shots": [2],
        "seeds": [13, 21],
        "train_patterns": "first",
        "cpu_threads": 1,
        "train": {"max_steps": 2, "eval_every": 1, "batch_size": 4, "precision": "fp32"},
        "ensembles": {"both": ["pet", "bitfit"]},
    }  # fmt: skip
    (work / "fewshot.yaml").write_text(yaml.safe_dump(experiment, sort_keys=False))


def produce(work: Path) -> dict[str, dict[str, dict]]:
    """Run :func:`plan` in ``work`` (the current directory meanwhile); ``{run: {file: digest}}``."""
    import torch
    from typer.testing import CliRunner

    from promptlearn.cli import app

    torch.set_num_threads(1)
    prepare_inputs(work)
    runner = CliRunner()
    digests = {}
    with _cwd(work):
        for run in plan(work):
            started = time.perf_counter()
            result = runner.invoke(app, run.args, input=run.input)
            if result.exit_code != 0:
                raise SystemExit(f"{run.name}: exit {result.exit_code}\n{result.output}\n{result.exception!r}")
            if run.output is None:
                digests[run.name] = {"stdout": digest_text("stdout.jsonl", result.stdout, work)}
            else:
                digests[run.name] = digest_folder(work / run.output, work)
            print(f"{run.name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return digests


@contextlib.contextmanager
def _cwd(folder: Path):
    previous = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


# --- digests ---------------------------------------------------------------------------------------


def digest_folder(folder: Path, work: Path) -> dict[str, dict]:
    """Every file under ``folder`` (hidden ones too: markers are part of the format), by relative path."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {p.relative_to(folder).as_posix(): digest_file(p, work) for p in files}


def digest_file(path: Path, work: Path) -> dict:
    data = path.read_bytes()
    if path.suffix == ".safetensors":
        return digest_safetensors(data, work)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return {"sha256": _sha(data), "bytes": len(data)}
    return digest_text(path.name, text, work)


def digest_text(name: str, text: str, work: Path) -> dict:
    """A text file's normalised sha256; JSON (and JSON lines) also keep their normalised content, so
    ``check`` can name the keys that changed."""
    text = _unplace(text, work)
    if name.endswith(".json") or name.endswith(".jsonl"):
        values = _json_values(text)
        if values is not None:
            values = _untime(values)
            return {"sha256": _sha(json.dumps(values, sort_keys=True).encode()), "json": values}
    if name.endswith(".md"):
        text = _untime_markdown(text)
    elif name.endswith(".csv"):
        text = _untime_csv(text)
    elif name.endswith(".html"):
        text = TIMING_CELL.sub(rf"\g<1>{TIMING}\g<2>", text)
    return {"sha256": _sha(text.encode())}


def digest_safetensors(data: bytes, work: Path) -> dict:
    """A safetensors file by its header (metadata: ``base_model`` holds the model's path) and each tensor's
    bytes, so ``check`` names the tensor or metadata key that changed."""
    size = struct.unpack("<Q", data[:8])[0]
    header = json.loads(_unplace(data[8 : 8 + size].decode("utf-8"), work))
    body = data[8 + size :]
    tensors = {
        name: f"{entry['dtype']}{entry['shape']} {_sha(body[slice(*entry['data_offsets'])])[:16]}"
        for name, entry in header.items()
        if name != "__metadata__"
    }
    values = {"metadata": header.get("__metadata__", {}), "tensors": tensors}
    return {"sha256": _sha(json.dumps(values, sort_keys=True).encode()), "json": values}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _unplace(text: str, work: Path) -> str:
    """The work folder as ``<WORK>``, under every spelling of it (``/tmp`` may be a link)."""
    for spelling in sorted({str(work), str(work.resolve())}, key=len, reverse=True):
        text = text.replace(spelling, WORK)
    return text


def _json_values(text: str):
    """A JSON document, or a JSON-lines file as ``{"lines": [...]}``; None when it is neither."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        return {"lines": [json.loads(line) for line in text.splitlines() if line.strip()]}
    except json.JSONDecodeError:
        return None


def _untime(value):
    """Timings as :data:`TIMING`, hashes of paths as their :data:`PATH_HASHES` placeholder."""
    if isinstance(value, dict):
        return {
            k: _placeholder(k, v) if k in TIMING_KEYS | PATH_HASHES.keys() else _untime(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_untime(v) for v in value]
    return value


def _placeholder(key: str, value):
    if value is None:
        return None
    return TIMING if key in TIMING_KEYS else PATH_HASHES[key]


def _untime_markdown(text: str) -> str:
    """Timing columns of markdown tables (found by their header) and pet's wall-time line."""
    lines, columns = text.split("\n"), []
    for i, line in enumerate(lines):
        if not line.startswith("|"):
            columns = []
            continue
        cells = line.split("|")
        if not columns and not set(line) <= set("|-: "):
            columns = [j for j, cell in enumerate(cells) if TIMING_COLUMN.search(cell.strip())]
            continue
        if set(line) <= set("|-: "):
            continue
        for j in columns:
            cells[j] = f" {TIMING} "
        lines[i] = "|".join(cells)
    return WALL_TIME_LINE.sub(rf"\g<1>{TIMING}\g<2>", "\n".join(lines))


def _untime_csv(text: str) -> str:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return text
    columns = [j for j, name in enumerate(rows[0]) if TIMING_COLUMN.search(name)]
    for row in rows[1:]:
        for j in columns:
            if j < len(row) and row[j]:
                row[j] = TIMING
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


# --- comparing -------------------------------------------------------------------------------------


def environment() -> dict[str, str]:
    """What the bytes depend on besides the code: library versions and the CPU kernels torch picks."""
    import matplotlib
    import numpy
    import peft
    import torch
    import transformers

    versions = {
        "python": ".".join(platform.python_version_tuple()[:2]),
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "numpy": numpy.__version__,
        "matplotlib": matplotlib.__version__,
    }
    try:
        import bitsandbytes

        versions["bitsandbytes"] = bitsandbytes.__version__
    except ImportError:
        versions["bitsandbytes"] = "absent"
    return versions


def differences(expected: dict[str, dict], actual: dict[str, dict]) -> list[str]:
    """One line per difference: runs and files missing or extra, files whose digest changed (JSON: the keys)."""
    lines = []
    for run in sorted(expected.keys() | actual.keys()):
        if run not in actual or run not in expected:
            lines.append(f"{run}: run {'missing' if run not in actual else 'not in the reference'}")
            continue
        old, new = expected[run], actual[run]
        for name in sorted(old.keys() | new.keys()):
            if name not in new:
                lines.append(f"{run}/{name}: no longer written")
            elif name not in old:
                lines.append(f"{run}/{name}: new file")
            elif old[name]["sha256"] != new[name]["sha256"]:
                if "json" in old[name] and "json" in new[name]:
                    changes = list(_json_changes(old[name]["json"], new[name]["json"], ""))
                    lines += [f"{run}/{name}: {change}" for change in changes[:20]]
                    if len(changes) > 20:
                        lines.append(f"{run}/{name}: ... and {len(changes) - 20} more")
                else:
                    sizes = f"{old[name].get('bytes', '?')} -> {new[name].get('bytes', '?')} bytes"
                    lines.append(f"{run}/{name}: content differs ({sizes})")
    return lines


def _json_changes(old, new, where: str):
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys(), key=str):
            here = f"{where}.{key}" if where else str(key)
            if key not in new:
                yield f"{here}: removed (was {_short(old[key])})"
            elif key not in old:
                yield f"{here}: added ({_short(new[key])})"
            else:
                yield from _json_changes(old[key], new[key], here)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from _json_changes(a, b, f"{where}[{i}]")
    elif old != new or type(old) is not type(new):
        yield f"{where or '(whole file)'}: {_short(old)} -> {_short(new)}"


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check(reference: Path, keep: Path | None = None) -> int:
    stored = json.loads(reference.read_text())
    started = time.perf_counter()
    actual = run_all(keep)
    print(f"golden runs: made in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    lines = differences(stored["runs"], actual)
    now = environment()
    if not lines:
        print(f"golden runs: {len(actual)} runs identical to {reference}")
        return 0
    print(f"golden runs: {len(lines)} differences from {reference}:")
    print("\n".join(f"  {line}" for line in lines))
    if now != stored["environment"]:
        print(f"note: the reference was recorded with {stored['environment']}, this is {now}; numbers may "
              "differ for that reason alone")  # fmt: skip
    return 1


def record(reference: Path, keep: Path | None = None) -> None:
    runs = run_all(keep)
    reference.parent.mkdir(parents=True, exist_ok=True)
    reference.write_text(json.dumps({"environment": environment(), "runs": runs}, indent=1, sort_keys=True) + "\n")
    print(f"recorded {len(runs)} runs in {reference}")


def run_all(keep: Path | None = None) -> dict[str, dict[str, dict]]:
    """All runs in a fresh temporary folder (or in ``keep``, new, left for a look)."""
    if keep is not None:
        keep.mkdir(parents=True)
        return produce(keep.resolve())
    with tempfile.TemporaryDirectory(prefix="golden-") as folder:
        return produce(Path(folder))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["record", "check"])
    parser.add_argument("--reference", type=Path, default=REFERENCE)
    parser.add_argument("--keep", type=Path, help="make the runs in this new folder and leave them there")
    args = parser.parse_args(argv)
    if args.command == "record":
        record(args.reference, args.keep)
        return 0
    return check(args.reference, args.keep)


if __name__ == "__main__":
    os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before torch is imported: the reference is made on CPU
    sys.path.insert(0, str(REPO))
    sys.exit(main())
