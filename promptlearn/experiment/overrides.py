"""From ``promptlearn fewshot``'s values to an :class:`Experiment`, run, and what to report about it.

Flags replace the experiment file's top-level keys; comma-separated flags are lists.
"""

from __future__ import annotations

from pathlib import Path

from promptlearn.errors import PromptlearnError
from promptlearn.experiment.config import Experiment
from promptlearn.experiment.grid import GridOptions
from promptlearn.pet.options import split_list


def shot_value(value: str) -> int | str:
    """A K value: a number, or a word such as ``all``."""
    return int(value) if value.isdigit() else value


def experiment_from(
    config: Path | None, model: str | None, output: str | None, report: str | None, tasks: str | None,
    data: str | None, data_root: str | None, modes: str | None, shots: str | None, seeds: str | None,
    max_steps: int | None, max_test_examples: int | None, cpu_threads: int | None,
) -> Experiment:  # fmt: skip
    """The experiment of the YAML file ``config`` (if any) with the values given (not None) replacing its keys.

    ``tasks``, ``data``, ``modes``, ``shots`` and ``seeds`` are comma-separated; ``data`` holds one folder
    per task. ``max_steps`` replaces the file's training length, whichever it was (steps or epochs).
    """
    overrides = {
        "model": model, "output": output, "report": report, "data_root": data_root,
        "modes": split_list(modes), "shots": split_list(shots, shot_value), "seeds": split_list(seeds, int),
        "max_test_examples": max_test_examples, "cpu_threads": cpu_threads,
    }  # fmt: skip
    overrides = {key: value for key, value in overrides.items() if value is not None}
    names, folders = split_list(tasks), split_list(data)
    if folders is not None:
        if names is None or len(names) != len(folders):
            raise PromptlearnError("Give one --data folder per --task name, in the same order")
        overrides["tasks"] = [{"name": t, "data": d} for t, d in zip(names, folders, strict=True)]
    elif names is not None:
        overrides["tasks"] = names
    values = Experiment.load(config).source | overrides if config is not None else overrides
    if max_steps is not None:
        train = {k: v for k, v in (values.get("train") or {}).items() if k != "epochs"}
        values["train"] = train | {"max_steps": max_steps}
    return Experiment.from_dict(values, origin=str(config or "command line"))


def run_and_report(
    experiment: Experiment, command: str, report_only: bool, grid: GridOptions
) -> tuple[list[dict], list[Path]] | None:
    """Run the grid (``report_only``: only gather the finished runs), then write the summary stating ``command``.

    Returns the records and the files written; None in a process of ``accelerate launch`` other than the
    main one, which writes the summary.
    """
    from promptlearn.experiment.report import write_report
    from promptlearn.experiment.runner import collect_records, run_experiment

    if report_only:
        records = collect_records(experiment)
    else:
        records = run_experiment(experiment, retry_failed=grid.retry_failed, workers=grid.workers)
        if records is None:
            return None
    return records, write_report(experiment, records, command)


def failed_runs(records: list[dict]) -> list[dict]:
    return [r for r in records if r["status"] != "ok"]


def failure_message(failed: list[dict], total: int) -> str:
    """Which of the ``total`` runs failed, each with the first line of its error."""
    lines = [f"  {r['run_id']}: {r['error'].splitlines()[0][:200]}" for r in failed]
    return f"{len(failed)} of {total} runs failed:\n" + "\n".join(lines)
