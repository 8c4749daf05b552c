"""Prompt transfer in a few-shot grid (SPoT, Vu et al. 2022): ``transfer: {sources: [...], targets: [...]}``.

For every mode of the grid whose ``init`` takes ``run:PATH`` (soft_prompt, ptuning_v2, lora, adapter), every
source → target pair of the grid's tasks, K and seed, one more run trains the target from the parameters the
source task's run of the same mode, K and seed trained (its first pattern, as the target's). The source runs are
the grid's own; they keep their weights for it. The summary compares each transfer run with the grid's run of the
target that started fresh (same mode, K, pattern and seed): accuracy with and without the source, and the gain.
"""

from __future__ import annotations

import dataclasses
import statistics
from pathlib import Path

from promptlearn.backbone.run_tensors import PREFIX
from promptlearn.errors import PromptlearnError
from promptlearn.modes.base import PATH

TRANSFER_KEYS = {"sources", "targets"}


def transfers_by_run(mode: str) -> bool:
    """Whether ``mode``'s ``init`` option takes ``run:PATH`` (declared by its field's path prefixes)."""
    from promptlearn.modes import MODES

    if mode not in MODES:
        return False
    fields = {item.name: item for item in dataclasses.fields(MODES[mode].options_class)}
    declared = fields["init"].metadata.get(PATH) if "init" in fields else None
    return PREFIX in ((declared,) if isinstance(declared, str) else declared or ())


def transfer_pairs(values, tasks: list[str], modes: list[str], origin: str) -> list[tuple[str, str]]:
    """The (source, target) pairs of a ``transfer`` mapping: every listed source to every other listed target
    (each list defaults to all the grid's tasks)."""
    if values is None:
        return []
    if not isinstance(values, dict) or set(values) - TRANSFER_KEYS:
        raise PromptlearnError(f"{origin}: transfer is a mapping with 'sources' and/or 'targets' (lists of tasks)")
    chosen = {}
    for key in TRANSFER_KEYS:
        names = values.get(key, tasks)
        names = [names] if isinstance(names, str) else names
        unknown = [n for n in names or [] if n not in tasks] if isinstance(names, list) else [names]
        if not names or unknown:
            raise PromptlearnError(f"{origin}: transfer.{key} must list tasks of this grid ({', '.join(tasks)})")
        chosen[key] = names
    if not any(transfers_by_run(mode) for mode in modes):
        raise PromptlearnError(
            f"{origin}: transfer needs a mode whose init takes run:PATH in modes (soft_prompt, ptuning_v2, lora, "
            "adapter)"
        )
    pairs = [(s, t) for s in chosen["sources"] for t in chosen["targets"] if s != t]
    if not pairs:
        raise PromptlearnError(f"{origin}: transfer has no pair of two different tasks")
    return pairs


def transfer_runs(specs: list, pairs: list[tuple[str, str]], output: str) -> list:
    """The transfer runs of the grid ``specs`` (marking the source runs to keep their weights), in run order
    after every other run. Each is its target's fresh run with ``init=run:<source run folder>``."""
    firsts = {}
    for spec in specs:
        if transfers_by_run(spec.mode):
            firsts.setdefault((spec.task, spec.mode, spec.shots, spec.seed), spec)
    runs = []
    for (task, mode, shots, seed), target in firsts.items():
        for source_task, _ in [pair for pair in pairs if pair[1] == task]:
            source = firsts.get((source_task, mode, shots, seed))
            if source is None:  # the source task has no run at this K
                continue
            source.keep_weights = True
            init = f"{PREFIX}{Path(output).resolve() / 'runs' / source.run_id}"
            config = target.config.replace(mode_options=target.config.mode_options | {"init": init})
            runs.append(dataclasses.replace(target, config=config, transfer_from=source, keep_weights=False))
    return runs


def gain_lines(records: list[dict]) -> list[str]:
    """summary.md's transfer section: per target, mode, K and source, the test accuracy with and without the
    source (mean over the seeds where both runs finished) and the gain (the mean of the seeds' differences)."""
    finished = [r for r in records if r["status"] == "ok"]
    fresh = {_cell(r): r for r in finished if "transfer" not in r}
    paired: dict[tuple, list[tuple[float, float]]] = {}
    for record in finished:
        plain = fresh.get(_cell(record)) if "transfer" in record else None
        if plain is not None:
            key = (record["task"], record["transfer"]["mode"], record["shots"], record["transfer"]["source"])
            paired.setdefault(key, []).append((record["test"]["accuracy"], plain["test"]["accuracy"]))
    if not paired:
        return []
    lines = [
        "## Transfer",
        "",
        "Test accuracy of each target trained from the source task's run (same mode, K and seed) and from scratch, "
        "mean over the seeds where both finished; gain: the mean of the seeds' differences (its std over seeds).",
        "",
        "| target | mode | K | source | with source | without | gain | seeds |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for (task, mode, shots, source), pairs in paired.items():
        gains = [with_source - without for with_source, without in pairs]
        lines.append(
            f"| {task} | {mode} | {shots} | {source} | {100 * statistics.mean(p[0] for p in pairs):.1f} | "
            f"{100 * statistics.mean(p[1] for p in pairs):.1f} | {100 * statistics.mean(gains):+.1f} "
            f"({100 * statistics.pstdev(gains):.1f}) | {len(pairs)} |"
        )
    return [*lines, ""]


def transfer_identity(spec) -> dict:
    """A transfer run's record fields: its summary row (``soft_prompt from sst2``) and what it started from."""
    source = spec.transfer_from
    return {
        "mode": f"{spec.mode} from {source.task}",
        "transfer": {"mode": spec.mode, "source": source.task, "source_run": source.run_id},
    }


def _cell(record: dict) -> tuple:
    """What pairs a transfer run with its target's fresh run: task, mode, K, seed and pattern."""
    mode = record["transfer"]["mode"] if "transfer" in record else record["mode"]
    return record["task"], mode, record["shots"], record["seed"], record["pattern_id"]
