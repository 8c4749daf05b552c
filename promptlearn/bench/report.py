"""Markdown tables from a benchmark report (:func:`promptlearn.bench.runner.run_benchmark`)."""

from __future__ import annotations

from promptlearn.bench.config import DATA_PHASES, EVAL_DATA, TRAIN_DATA

MIB = 2**20
#: BenchConfig's training options of the promptlearn rows, named in the report when on
SPEED = ("packed", "sparse_embedding_grads")


def to_markdown(report: dict) -> str:
    """Machine, versions, command, then one table per batch size and one for the real-data evaluation."""
    settings, env = report["settings"], report["environment"]
    chosen = sorted({r["threads"] for r in report["results"] if "threads" in r})
    threads = settings.get("threads") or "/".join(map(str, chosen)) or "torch's default"
    device = env.get("gpu") or f"CPU: {env['cpu']}, {env['cpu_cores']} cores, {threads} thread(s) per process"
    lines = [
        f"- machine: {device}; {env['platform']}",
        f"- versions: Python {env['python']}, torch {env['torch']}, transformers {env['transformers']}, "
        f"accelerate {env['accelerate']}" + (f", CUDA {env['cuda']}" if env.get("cuda") else ""),
        f"- model: {settings['model']}" + (" (random weights)" if settings["random_weights"] else "")
        + f"; precision {settings['precision']}; {settings['warmup_steps']} warm-up + {settings['steps']} timed steps"
        + (f"; each row the fastest of {settings['repeat']} round-robin runs" if settings.get("repeat", 1) > 1 else "")
        + "".join(f"; promptlearn rows with --{name.replace('_', '-')}" for name in SPEED if settings.get(name)),
        f"- command: `{report['command']}`" if report.get("command") else None,
        f"- wall time: {report['wall_seconds']} s",
        "",
    ]  # fmt: skip
    rows = report["results"]
    for batch_size in settings["batch_sizes"]:
        lines += _phase_table(rows, batch_size, settings["seq_len"])
    for phase in (TRAIN_DATA, EVAL_DATA):
        data_rows = [r for r in rows if r["phase"] == phase]
        if data_rows:
            lines += _data_table(data_rows, settings, phase)
    return "\n".join(line for line in lines if line is not None) + "\n"


def _phase_table(rows: list[dict], batch_size: int, seq_len: int) -> list[str]:
    by_system: dict[str, dict[str, dict]] = {}
    for row in rows:
        if row["batch_size"] == batch_size and row["phase"] not in DATA_PHASES:
            by_system.setdefault(row["system"], {})[row["phase"]] = row
    lines = [
        f"### Batch {batch_size}, sequence length {seq_len}",
        "",
        "| system | trainable params | train ex/s | × naive | × plain | train peak MiB | × naive | train MFU "
        "| eval ex/s | × naive | × plain | eval peak MiB | × naive |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for system, phases in by_system.items():
        train, evaluate = phases.get("train", {}), phases.get("eval", {})
        params = train.get("trainable_parameters", evaluate.get("trainable_parameters"))
        cells = [system, _count(params), *_cells(train), _percent(train.get("mfu")), *_cells(evaluate)]
        lines.append("| " + " | ".join(cells) + " |")
    errors = [f"- {s} ({p}): {r['error']}" for s, ph in by_system.items() for p, r in ph.items() if "error" in r]
    return [*lines, "", *errors, *([""] if errors else [])]


def _data_table(rows: list[dict], settings: dict, phase: str) -> list[str]:
    length = settings["eval_max_length"]
    if phase == TRAIN_DATA:
        title = (
            f"### Training on {settings['train_data']}: K = {settings['shots']} per label, seed {settings['seed']} "
            f"(batch {rows[0]['batch_size']}, max length {length}, {settings['steps']} timed steps)"
        )
        padded, ours = f"every batch padded to {length}", "`train`'s batches (length-grouped, dynamic padding)"
    else:
        title = f"### Evaluation on {settings['eval_data']} (batch {settings['eval_batch_size']}, max length {length})"
        padded, ours = f"every batch padded to {length}, file order", "sorted by length, dynamic padding"
    lines = [
        title,
        "",
        "| pipeline | examples | mean tokens | ex/s | × naive | × plain | peak MiB | × naive | accuracy |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    plain_padded = (
        padded
        if settings.get("plain_padding", "fixed") == "fixed"
        else padded.replace(f"every batch padded to {length}", "each batch padded to its longest")
    )
    for row in rows:
        name = {
            "naive": f"naive: {padded}",
            "plain": f"plain (label words at [MASK]): {plain_padded}",
        }.get(row.get("reference"), f"promptlearn ({row['system']}): {ours}")
        if "error" in row:
            lines.append(f"| {name} | failed: {row['error'][:120]} | | | | | | | |")
            continue
        accuracy = _percent(row.get("accuracy"))
        cells = [name, str(row["examples"]), f"{row['mean_length']:.1f}", *_cells(row), accuracy]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def _cells(row: dict) -> list[str]:
    """ex/s, its ratios to naive and plain, peak MiB, its ratio to naive (blank when missing, 'failed' on error)."""
    if not row:
        return ["", "", "", "", ""]
    if "error" in row:
        return ["failed", "", "", "", ""]
    return [
        f"{row['examples_per_s']:,.1f}",
        _ratio(row.get("speedup")),
        _ratio(row.get("plain_speedup")),
        f"{row['peak_memory_bytes'] / MIB:,.0f}",
        _ratio(row.get("memory_ratio")),
    ]


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}×"


def _percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f} %"


def _count(value: int | None) -> str:
    if value is None:
        return ""
    return f"{value / 1e6:.2f} M" if value >= 1e5 else f"{value:,}"
