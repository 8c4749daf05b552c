"""Several tasks, one model: which tasks, what they share, how batches mix, what selects, declared once.

:class:`MultiTaskOptions` is both ``promptlearn train``'s multi-task options (generated from its fields) and
the ``multitask.json`` a multi-task run folder saves. A task comes from a preset name (``--tasks sst2,rte``:
its data folder under ``--data-root``, its first pattern and its words, as ``promptlearn fewshot`` reads
presets) or from a YAML file listing ``name``, ``data``, ``pattern``, ``verbalizer`` (and ``task``, a preset
to take what is not given from). Every task gets the same run settings (mode, K, seed, steps, ...) as one
:class:`~promptlearn.run.config.RunConfig` each. Free of torch, so bad input is refused before it loads.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from promptlearn.errors import PromptlearnError
from promptlearn.run import features
from promptlearn.run.config import RunConfig

#: what per-task parameters are (see :mod:`promptlearn.multitask.model`)
SHARES = ("task", "all")
#: how the task of the next batch is drawn (see :mod:`promptlearn.multitask.sampling`)
SAMPLINGS = ("proportional", "temperature", "equal")
#: ``select``'s value that selects on the mean of the tasks' dev accuracies
MEAN = "mean"
#: the RunConfig fields a task sets; every other field is the run's, the same for every task
TASK_FIELDS = ("data", "pattern", "verbalizer", "task", "pattern_id")


@dataclass(frozen=True)
class TaskSpec:
    """One task: its name (how ``--task NAME`` picks it), data folder, pattern and label words."""

    name: str
    data: str
    pattern: str
    verbalizer: dict[str, list[str]] | None
    preset: str | None = None


@dataclass(frozen=True)
class MultiTaskOptions:
    """How several tasks train one model.

    ``share``: ``task`` gives every task its own copy of what the mode adds (soft prompt, prompt encoder,
    deep prompts, LoRA, adapters, heads) over one shared encoder; ``all`` shares those too (one prompt, one
    LoRA for every task; a head whose size differs between tasks stays per task). Whatever the mode trains
    *in* the encoder (``pet``'s whole masked LM, ``bitfit``'s biases) is shared either way.
    ``sampling``/``sampling_temperature``: the rule that draws each batch's task. ``select``: dev selection on the
    mean of the tasks' dev accuracies, or on one task's. ``sequential``: train the tasks one after another
    instead of mixed, ``rehearsal`` examples of every earlier task replayed in each later stage.
    """

    tasks: str | None = field(
        default=None,
        metadata={
            "help": "Train several tasks on one model: comma-separated preset names (data under --data-root) or a "
            "YAML file listing name, data, pattern, verbalizer per task (docs/multitask.md).",
        },
    )
    data_root: str | None = field(default=None, metadata={"help": "With --tasks NAMES: one data folder per task."})
    share: str = field(
        default="task",
        metadata={"help": "With --tasks: 'task' (a prompt/LoRA/adapter/head per task) or 'all' (one for all)."},
    )
    sampling: str = field(
        default="proportional",
        metadata={"help": "With --tasks: each batch's task drawn 'proportional' to its size, 'temperature', 'equal'."},
    )
    sampling_temperature: float = field(
        default=2.0, metadata={"help": "With --sampling temperature: p(task) ∝ size^(1/T)."}
    )
    select: str = field(
        default=MEAN, metadata={"help": "With --tasks: keep the weights best on the mean dev accuracy, or a task's."}
    )
    sequential: bool = field(default=False, metadata={"help": "With --tasks: one task after another (continual)."})
    rehearsal: int = field(
        default=0, metadata={"help": "With --sequential: examples of each earlier task replayed in later stages."}
    )

    def __post_init__(self):
        if self.share not in SHARES:
            raise PromptlearnError(f"--share must be one of {', '.join(SHARES)}, got {self.share!r}")
        if self.sampling not in SAMPLINGS:
            raise PromptlearnError(f"--sampling must be one of {', '.join(SAMPLINGS)}, got {self.sampling!r}")
        if self.sampling_temperature <= 0:
            raise PromptlearnError(f"--sampling-temperature must be positive, got {self.sampling_temperature}")
        if self.rehearsal < 0:
            raise PromptlearnError(f"--rehearsal must be 0 or more, got {self.rehearsal}")
        if self.rehearsal and not self.sequential:
            raise PromptlearnError("--rehearsal replays earlier tasks of a --sequential run; give --sequential too")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def task_specs(options: MultiTaskOptions) -> list[TaskSpec]:
    """The tasks ``options.tasks`` names: preset names under ``data_root``, or a YAML file's list."""
    if not options.tasks:
        raise PromptlearnError("Give --tasks: comma-separated preset names, or a YAML file listing the tasks")
    source = Path(options.tasks)
    specs = _from_yaml(source) if source.suffix in (".yaml", ".yml") else _from_presets(options)
    names = [spec.name for spec in specs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise PromptlearnError(f"--tasks names {repeated} more than once; every task needs its own name")
    if len(specs) < 2:
        raise PromptlearnError(f"--tasks needs at least two tasks, got {names}; train one with --task/--data")
    if options.select not in (MEAN, *names):
        raise PromptlearnError(f"--select must be {MEAN!r} or one of the tasks {names}, got {options.select!r}")
    return specs


def _from_presets(options: MultiTaskOptions) -> list[TaskSpec]:
    from promptlearn.prompt.presets import resolve_prompt

    if options.data_root is None:
        raise PromptlearnError("--tasks NAMES reads each task's data from --data-root NAME; give --data-root")
    specs = []
    for name in (part.strip() for part in options.tasks.split(",")):
        if not name:
            raise PromptlearnError(f"--tasks {options.tasks!r} has an empty name")
        pattern, words = resolve_prompt(name, None, None, None)
        specs.append(TaskSpec(name, str(Path(options.data_root) / name), pattern, words, preset=name))
    return specs


def _from_yaml(path: Path) -> list[TaskSpec]:
    import yaml

    from promptlearn.prompt.presets import resolve_prompt
    from promptlearn.prompt.verbalizer import Verbalizer

    if not path.is_file():
        raise PromptlearnError(f"--tasks {path}: no such file")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise PromptlearnError(f"--tasks {path} is not valid YAML: {err}") from err
    entries = loaded.get("tasks") if isinstance(loaded, dict) else loaded
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise PromptlearnError(f"{path} must hold a list of tasks (each with name, data, pattern, verbalizer)")
    specs = []
    for entry in entries:
        unknown = sorted(set(entry) - {"name", "data", "pattern", "verbalizer", "task"})
        if unknown or "data" not in entry:
            why = f"unknown keys {unknown}" if unknown else "no data"
            raise PromptlearnError(f"{path}: task {entry.get('name', entry)!r} has {why} (keys: name, data, ...)")
        preset, words = entry.get("task"), entry.get("verbalizer")
        pattern, resolved = resolve_prompt(preset, entry.get("pattern"), None, None)
        if isinstance(words, dict):
            resolved = Verbalizer.from_dict(words, origin=f"{path}: task {entry.get('name', preset)!r}").to_dict()
        elif words is not None:
            resolved = Verbalizer.parse(str(words)).to_dict()
        data = Path(entry["data"])
        data = data if data.is_absolute() else path.parent / data
        specs.append(TaskSpec(str(entry.get("name", preset)), str(data), pattern, resolved, preset))
    return specs


def task_configs(base: dict, specs: list[TaskSpec]) -> dict[str, RunConfig]:
    """One RunConfig per task: ``base`` (the run's settings, as RunConfig fields) with the task's data and prompt.

    Run-level features (calibration, demonstrations, label search, soft labels, auxiliary MLM) act on one task
    and are refused: their hooks see one task's data.
    """
    set_features = sorted(
        name
        for feature in features.FEATURES
        for name, (_, declared) in feature.options.items()
        if not declared.metadata.get("unsaved") and base.get(name, declared.default) != declared.default
    )
    if set_features:
        raise PromptlearnError(f"--tasks trains several tasks at once; {set_features} work on one task only")
    return {
        spec.name: RunConfig(
            **base, data=spec.data, pattern=spec.pattern, verbalizer=spec.verbalizer, task=spec.preset
        ).anchored()
        for spec in specs
    }


def command_line_run(
    given: dict, model: str | None, clashing: dict, settings: dict, pairs: list[str] | None, flags: dict
) -> tuple[MultiTaskOptions, dict[str, RunConfig]]:
    """``promptlearn train --tasks ...``: the multi-task options ``given`` and one RunConfig per task.

    ``clashing``: the single-task options given (--data, --task, --pattern, ...), which --tasks replaces.
    """
    from promptlearn.run.options import mode_options

    if "tasks" not in given:
        raise PromptlearnError(f"{', '.join(sorted(_flags(given)))} go with --tasks (several tasks on one model)")
    named = sorted(flag for flag, value in clashing.items() if value is not None)
    if named:
        raise PromptlearnError(f"{', '.join(named)} cannot be combined with --tasks: each task brings its own")
    if model is None:
        raise PromptlearnError("Give --model: the one masked LM every task of --tasks trains")
    options = MultiTaskOptions(**given)
    mode = settings.get("mode", RunConfig.mode)
    base = {"model": model, **settings, "mode_options": mode_options(mode, pairs, flags)}
    return options, task_configs(base, task_specs(options))


def _flags(given: dict) -> list[str]:
    from promptlearn.run.config import flag

    return [MultiTaskOptions.__dataclass_fields__[name].metadata.get("flag", flag(name)) for name in given]
