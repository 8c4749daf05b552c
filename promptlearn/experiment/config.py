"""Experiment schema: one YAML file (or CLI flags) -> a validated :class:`Experiment` -> a grid of runs.

The grid is tasks x modes x K x patterns x seeds. ``zero-shot`` is a pseudo-mode: it trains
nothing, evaluates every pattern of the task once (seeds do not change it) and needs no K.
Relative paths are taken from the current directory. See docs/fewshot.md for the full schema.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from promptlearn.data.sampling import DEFAULT_DEV_SPLIT, DEV_SPLITS, LM_BFF_SEEDS
from promptlearn.errors import PromptlearnError
from promptlearn.experiment.grid import GRID_KEYS, GridOptions
from promptlearn.experiment.optuna_search import OptunaSearch
from promptlearn.experiment.transfer import transfer_pairs, transfer_runs
from promptlearn.pet.config import PET_MODES
from promptlearn.prompt.pattern import Pattern
from promptlearn.prompt.presets import available_tasks, preset_words, task_patterns
from promptlearn.prompt.verbalizer import Verbalizer
from promptlearn.run.config import RunConfig, as_keys

ZERO_SHOT = "zero-shot"
#: ``shots: all`` trains on the whole train split and selects on its dev split (FewGLUE's 32 + 32 for CB/BoolQ)
ALL_SHOTS = "all"
#: RunConfig fields the grid sets per run; ``train`` / ``mode_settings`` may not set them
GRID_FIELDS = {"model", "data", "pattern", "verbalizer", "labels", "task", "pattern_id", "mode", "shots", "seed"}
COLUMN_FIELDS = {"text_column", "text_b_column", "label_column"}
TRAIN_FIELDS = {f.name for f in dataclasses.fields(RunConfig)} - GRID_FIELDS - COLUMN_FIELDS - {"dev_split"}
SEARCHABLE = ("learning_rate", "batch_size", "max_steps", "weight_decay", "warmup_ratio")
#: training length: a more specific level (mode_settings, search) setting one of these replaces the others
LENGTH_FIELDS = ("max_steps", "epochs", "steps")

EXPERIMENT_KEYS = {
    "model", "tasks", "data_root", "output", "report", "modes", "shots", "seeds", "dev_split",
    "train_patterns", "max_test_examples", "cpu_threads", "train", "mode_settings", "search", "search_combine",
    "ensembles", "search_extend", "ensemble_filter", "transfer",
}  # fmt: skip
TASK_KEYS = {"name", "data", "patterns", "verbalizer", "shots", "dev_split", "recipe"} | COLUMN_FIELDS
#: the pseudo-mode of a task's ``recipe: auto`` runs (one recipe folder per K and seed, :mod:`promptlearn.run.recipe`)
RECIPE_MODE = "recipe-auto"
#: task and ensemble names become file names (run folders, locks, plots): no path separators, no leading dot
NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
#: numpy seeds its generators with unsigned 32-bit integers
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class TaskSpec:
    """One task of the grid: where its data is, its patterns ``(id, text)`` and label words.

    ``verbalizer`` None: ``verbalizer: auto``, the words are searched inside each run's own split.
    """

    name: str
    data: str
    patterns: tuple[tuple[int, str], ...]
    verbalizer: dict[str, list[str]] | None
    shots: tuple[int | str, ...]
    dev_split: str
    columns: dict[str, str] = field(default_factory=dict)
    #: ``auto``: the task also trains ``train --recipe auto`` per K and seed (mode :data:`RECIPE_MODE`)
    recipe: str | None = None


@dataclass
class RunSpec:
    """One cell of the grid. ``candidates`` are the hyperparameter overrides tried (chosen on dev)."""

    task: str
    mode: str
    pattern_id: int
    shots: int | str | None
    seed: int | None
    config: RunConfig
    candidates: list[dict]
    test_limit: int | None = None
    #: PET pseudo-modes: every ``(id, text)`` pattern of the pipeline
    patterns: tuple = ()
    #: what a search reports: the ``best`` candidate on dev, or the ``mean`` of every candidate's probabilities
    combine: str = "best"
    #: an Optuna search instead of ``candidates`` (which is then ``[{}]``): see :mod:`~.optuna_search`
    study: OptunaSearch | None = None
    #: how many values the search may add beyond the grid's edges (:mod:`promptlearn.run.moving_grid`)
    extend: int = 0
    #: a transfer run: the source task's run whose trained parameters start this one (:mod:`~.transfer`)
    transfer_from: RunSpec | None = None
    #: a transfer source: the run folder keeps its trained weights
    keep_weights: bool = False

    @property
    def zero_shot(self) -> bool:
        return self.mode == ZERO_SHOT

    @property
    def run_id(self) -> str:
        """Folder name of the run, e.g. ``sst2__pet__p0__k16__s13`` or ``sst2__zero-shot__p1``."""
        parts = [self.task, self.mode, f"p{self.pattern_id}"]
        if not self.zero_shot:
            parts += [f"k{self.shots}", f"s{self.seed}"]
        if self.transfer_from is not None:
            parts.append(f"from-{self.transfer_from.task}")
        return "__".join(parts)


@dataclass
class Experiment:
    """A validated experiment. Build with :meth:`load` (YAML) or :meth:`from_dict`."""

    model: str
    tasks: list[TaskSpec]
    output: str
    modes: list[str]
    shots: list[int | str]
    seeds: list[int]
    report: str | None = None
    train_patterns: str = "all"
    max_test_examples: int | None = None
    cpu_threads: int | None = None
    train: dict = field(default_factory=dict)
    mode_settings: dict[str, dict] = field(default_factory=dict)
    #: a grid (hyperparameter -> values to try) or an Optuna search
    search: dict[str, list] | OptunaSearch = field(default_factory=dict)
    #: ``best``: a searched run is its best candidate on dev; ``mean``: the mean of all its candidates' probabilities
    search_combine: str = "best"
    #: name -> modes: per task x K x seed, the mean class probabilities of all those modes' runs (every pattern)
    ensembles: dict[str, list[str]] = field(default_factory=dict)
    #: (source, target) task pairs of the transfer study (:mod:`~.transfer`)
    transfer: list[tuple[str, str]] = field(default_factory=list)
    source: dict = field(default_factory=dict)
    #: values a grid search may add beyond its edges, per run (0: the grid stays as given; see ``moving_grid``)
    search_extend: int = 0
    #: named ensembles leave out members no better than chance or the majority class on dev (``run/ensemble.py``)
    ensemble_filter: bool = False
    #: how the grid runs (``backend: ray``, ...): :class:`GridOptions` fields set in the file; flags replace them
    grid: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path, overrides: dict | None = None) -> Experiment:
        """Read a YAML experiment; ``overrides`` (from CLI flags) replace its top-level keys."""
        path = Path(path)
        try:
            values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as err:
            raise PromptlearnError(f"Cannot read experiment file {path}: {err}") from err
        if not isinstance(values, dict):
            raise PromptlearnError(f"{path}: an experiment file is a mapping of keys (model, tasks, modes, ...)")
        return cls.from_dict(values | (overrides or {}), origin=str(path))

    @classmethod
    def from_dict(cls, values: dict, origin: str = "experiment") -> Experiment:
        """Validate ``values`` (the YAML's content); every problem names the key and the accepted values."""
        _check_keys(values, EXPERIMENT_KEYS | GRID_KEYS, origin)
        for key in ("model", "tasks", "output"):
            if not values.get(key):
                raise PromptlearnError(f"{origin}: {key!r} is required (see docs/fewshot.md)")
        for key in ("model", "output", "report", "data_root", "dev_split"):
            _text(values.get(key), key, origin)
        from promptlearn.modes import MODES

        modes = _as_list(values.get("modes", [ZERO_SHOT, "pet"]), "modes", origin)
        for mode in modes:
            if not isinstance(mode, str) or (mode != ZERO_SHOT and mode not in MODES and mode not in PET_MODES):
                known = ", ".join([ZERO_SHOT, *sorted(MODES), *PET_MODES])
                raise PromptlearnError(f"{origin}: modes: unknown mode {mode!r}; choose from {known}")
        shots = [_shot(k, f"{origin}: shots") for k in _as_list(values.get("shots", [16]), "shots", origin)]
        seeds = _as_list(values.get("seeds", list(LM_BFF_SEEDS)), "seeds", origin)
        if not seeds or not all(_integer(s) and 0 <= s <= MAX_SEED for s in seeds):
            raise PromptlearnError(f"{origin}: seeds must be a list of integers from 0 to {MAX_SEED}, got {seeds!r}")
        train_patterns = values.get("train_patterns", "all")
        if train_patterns not in ("all", "first"):
            raise PromptlearnError(f"{origin}: train_patterns must be 'all' or 'first', got {train_patterns!r}")
        max_test = values.get("max_test_examples")
        if max_test is not None and (not _integer(max_test) or max_test < 1):
            raise PromptlearnError(f"{origin}: max_test_examples must be a positive integer, got {max_test!r}")
        threads = values.get("cpu_threads")
        if threads is not None and (not _integer(threads) or threads < 1):
            raise PromptlearnError(f"{origin}: cpu_threads must be a positive integer, got {threads!r}")
        train = _train_settings(values.get("train") or {}, f"{origin}: train")
        mode_settings = values.get("mode_settings") or {}
        if not isinstance(mode_settings, dict):
            raise PromptlearnError(f"{origin}: mode_settings maps a mode name to its settings")
        mode_settings = dict(mode_settings)
        for mode, settings in mode_settings.items():
            # settings of a registered mode the run leaves out (e.g. `--modes pet`) are checked, then unused
            if mode not in MODES:
                raise PromptlearnError(
                    f"{origin}: mode_settings: {mode!r} is not a trained mode; choose from {', '.join(sorted(MODES))}"
                )
            if not isinstance(settings or {}, dict):
                raise PromptlearnError(
                    f"{origin}: mode_settings.{mode} must be a mapping of RunConfig fields, e.g. {{max_steps: 100}}"
                )
            settings = dict(settings or {})
            search = settings.pop("search", None)
            mode_settings[mode] = _train_settings(settings, f"{origin}: mode_settings.{mode}")
            if search is not None:
                mode_settings[mode]["search"] = _search(search, f"{origin}: mode_settings.{mode}.search")
        dev_split = values.get("dev_split", DEFAULT_DEV_SPLIT)
        tasks = [
            _task(entry, values.get("data_root"), shots, dev_split, f"{origin}: tasks[{i}]")
            for i, entry in enumerate(_as_list(values["tasks"], "tasks", origin))
        ]
        names = [t.name for t in tasks]
        if len(set(names)) != len(names):
            raise PromptlearnError(f"{origin}: task names must be unique, got {names}")
        experiment = cls(
            model=str(values["model"]),
            tasks=tasks,
            output=str(values["output"]),
            report=None if values.get("report") is None else str(values["report"]),
            modes=modes,
            shots=shots,
            seeds=seeds,
            train_patterns=train_patterns,
            max_test_examples=max_test,
            cpu_threads=threads,
            train=train,
            mode_settings=mode_settings,
            search=_search(values.get("search") or {}, f"{origin}: search"),
            search_combine=_search_combine(values.get("search_combine", "best"), origin),
            ensembles=_ensembles(values.get("ensembles") or {}, modes, f"{origin}: ensembles"),
            transfer=transfer_pairs(values.get("transfer"), names, modes, origin),
            source=dict(values),
            search_extend=_count(values.get("search_extend", 0), "search_extend", origin),
            ensemble_filter=_flag(values.get("ensemble_filter", False), "ensemble_filter", origin),
            grid=_grid(values, origin),
        )
        try:
            experiment.runs()  # builds every RunConfig now, so a bad value fails before the first run
            experiment._check_unused_settings()
        except PromptlearnError as err:
            raise PromptlearnError(f"{origin}: {err}") from err
        return experiment

    def _check_unused_settings(self) -> None:
        """Build a RunConfig from the training settings no run of this grid uses (``mode_settings`` of a
        mode ``--modes`` leaves out; ``train`` and ``search`` of a grid without trained modes), so a bad
        value there fails now too, not in a later command that runs those modes."""
        from promptlearn.modes import MODES

        task = self.tasks[0]
        levels = [("train", self.train, self.search)] if not set(self.modes) & set(MODES) else []
        for mode, settings in self.mode_settings.items():
            if mode not in self.modes:
                settings = dict(settings)
                levels.append(
                    (f"mode_settings.{mode}", override(self.train, settings), settings.pop("search", self.search))
                )
        for where, settings, search in levels:
            config = _run_config(
                where, model=self.model, data=task.data, pattern=task.patterns[0][1], verbalizer=task.verbalizer,
                **{k: v for k, v in settings.items() if k != "search"},
            )  # fmt: skip
            for candidate in _candidates(search):
                with_candidate(config, candidate, where)
            if isinstance(search, OptunaSearch) and where != "train":
                _check_study(search, config, where.removeprefix("mode_settings."), where)

    def runs(self) -> list[RunSpec]:
        """The grid, in run order: per task, zero-shot first, then mode x K x pattern x seed; the transfer runs
        last (their sources are grid runs)."""
        specs = []
        for task in self.tasks:
            for mode in self.modes:
                specs += self._mode_runs(task, mode)
            if task.recipe is not None:
                specs += self._recipe_runs(task)
        return specs + transfer_runs(specs, self.transfer, self.output)

    def _recipe_runs(self, task: TaskSpec) -> list[RunSpec]:
        """The task's ``recipe: auto`` runs, one per K and seed over all its patterns, with ``train``'s settings."""
        if task.verbalizer is None:
            raise PromptlearnError(f"{task.name}: recipe: auto needs the task's label words (not verbalizer: auto)")
        base = _run_config(
            f"{task.name}/recipe", model=self.model, data=task.data, pattern=task.patterns[0][1],
            verbalizer=task.verbalizer, task=task.name, **task.columns, **self.train,
        )  # fmt: skip
        return [
            RunSpec(task.name, RECIPE_MODE, 0, shots, seed, base.replace(seed=seed, shots=None if shots == ALL_SHOTS
                    else shots, dev_split=task.dev_split), [{}], self.max_test_examples, task.patterns)
            for shots, seed in itertools.product(task.shots, self.seeds)
        ]  # fmt: skip

    def _mode_runs(self, task: TaskSpec, mode: str) -> list[RunSpec]:
        settings = dict(self.mode_settings.get(mode, {}))
        search = settings.pop("search", self.search)
        candidates = _candidates(search)
        study = search if isinstance(search, OptunaSearch) and mode != ZERO_SHOT and mode not in PET_MODES else None
        where = f"{task.name}/{mode}"
        base = _run_config(
            where, model=self.model, data=task.data, pattern=task.patterns[0][1], verbalizer=task.verbalizer,
            task=task.name, verbalizer_search={} if task.verbalizer is None else None, **task.columns,
            **override(self.train, settings),
        )  # fmt: skip
        if mode == ZERO_SHOT and task.verbalizer is None:
            raise PromptlearnError(
                f"{where}: verbalizer: auto searches label words on each seed's few-shot split, and zero-shot has "
                "none; use `promptlearn search-verbalizer` and pass its file as the task's verbalizer"
            )
        if mode == ZERO_SHOT:
            zero_shot = [(pid, base.replace(pattern=text, pattern_id=pid)) for pid, text in task.patterns]
            return [RunSpec(task.name, mode, pid, None, None, c, [{}], self.max_test_examples) for pid, c in zero_shot]
        if mode in PET_MODES:  # one pipeline over all patterns per K and seed; its models train with `pet`
            return [
                RunSpec(task.name, mode, 0, shots, seed, base.replace(mode="pet", seed=seed, shots=shots,
                        dev_split=task.dev_split), [{}], self.max_test_examples, task.patterns)
                for shots, seed in itertools.product(task.shots, self.seeds)
            ]  # fmt: skip
        from promptlearn.modes import get_mode

        patterns = task.patterns
        if self.train_patterns == "first" or not get_mode(mode).uses_verbalizer:
            patterns = patterns[:1]  # a classification head reads no label words: one pattern is enough
        specs = []
        for shots, (pid, text), seed in itertools.product(task.shots, patterns, self.seeds):
            whole = shots == ALL_SHOTS  # the whole train split; dev is the given one (a 10 % slice without one)
            config = base.replace(
                pattern=text, pattern_id=pid, mode=mode, seed=seed, shots=None if whole else shots,
                dev_split=task.dev_split,
            )  # fmt: skip
            for candidate in candidates:
                with_candidate(config, candidate, where)
            if study is not None:
                _check_study(study, config, mode, where)
            specs.append(RunSpec(task.name, mode, pid, shots, seed, config, candidates, self.max_test_examples,
                                 combine="best" if study else self.search_combine, study=study,
                                 extend=0 if study or len(candidates) < 2 else self.search_extend))  # fmt: skip
        return specs


def override(general: dict, specific: dict) -> dict:
    """``general`` settings updated by ``specific`` ones; a training length in ``specific`` replaces both kinds.

    So ``train: {epochs: 30}`` with ``mode_settings: {pet: {max_steps: 100}}`` trains pet for 100 steps.
    """
    if any(key in specific for key in LENGTH_FIELDS):
        general = {k: v for k, v in general.items() if k not in LENGTH_FIELDS}
    return general | specific


def with_candidate(config: RunConfig, candidate: dict, where: str) -> RunConfig:
    """``config`` with one hyperparameter-search candidate applied (its ``max_steps`` replaces ``epochs``)."""
    length = dict.fromkeys(LENGTH_FIELDS) if any(key in candidate for key in LENGTH_FIELDS) else {}
    return _in_keys(where, lambda: config.replace(**(length | candidate)))


def study_candidate(config: RunConfig, params: dict) -> dict:
    """An Optuna trial's values as a search candidate: run fields as given, mode options inside ``mode_options``."""
    options = {k: v for k, v in params.items() if k not in SEARCHABLE}
    return {k: v for k, v in params.items() if k in SEARCHABLE} | (
        {"mode_options": config.mode_options | options} if options else {}
    )


def _check_study(study: OptunaSearch, config: RunConfig, mode: str, where: str) -> None:
    """Refuse a searched name that is neither a searchable field nor an option of ``mode``, and values at the
    space's edges that the run would refuse, before anything runs."""
    from promptlearn.modes import get_mode

    known = [*SEARCHABLE, *(f.name for f in dataclasses.fields(get_mode(mode).options_class))]
    for name in study.names():
        if name not in known:
            raise PromptlearnError(
                f"{where}: search.space.{name}: not a hyperparameter of mode {mode}; search {', '.join(known)}"
            )
    for params in study.edges():
        candidate = with_candidate(config, study_candidate(config, params), where)
        try:
            get_mode(mode).from_options(candidate.mode_options)
        except (PromptlearnError, TypeError, ValueError) as err:  # options are typed by their dataclass only
            raise PromptlearnError(f"{where}: search.space {params}: {as_keys(str(err))}") from err


def _run_config(where: str, **fields) -> RunConfig:
    return _in_keys(where, lambda: RunConfig(**fields))


def _in_keys(where: str, build):
    """Run ``build``; RunConfig's messages name CLI flags (``--max-steps``): say the YAML keys instead."""
    try:
        return build()
    except PromptlearnError as err:
        raise PromptlearnError(f"{where}: {as_keys(str(err))}") from err


def _check_keys(values: dict, known: set[str], origin: str) -> None:
    for key in values:
        if key not in known:
            close = difflib.get_close_matches(str(key), sorted(known), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise PromptlearnError(f"{origin}: unknown key {key!r}.{hint} Known keys: {', '.join(sorted(known))}")


def _grid(values: dict, origin: str) -> dict:
    """The grid options the file sets, checked as the flags of the same names are."""
    grid = {key: values[key] for key in sorted(GRID_KEYS) if key in values}
    try:
        GridOptions(**grid)
    except (PromptlearnError, TypeError) as err:
        raise PromptlearnError(f"{origin}: {err}") from err
    return grid


def _count(value, key: str, origin: str) -> int:
    if not _integer(value) or value < 0:
        raise PromptlearnError(f"{origin}: {key} must be a whole number >= 0, got {value!r}")
    return value


def _flag(value, key: str, origin: str) -> bool:
    if not isinstance(value, bool):
        raise PromptlearnError(f"{origin}: {key} must be true or false, got {value!r}")
    return value


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value, key: str, origin: str) -> None:
    """Refuse a non-string where a path, name or choice is expected (YAML turns ``[a]`` into a list)."""
    if value is not None and not isinstance(value, str):
        raise PromptlearnError(f"{origin}: {key} must be a string, got {value!r} ({type(value).__name__})")


def _name(value, key: str, origin: str) -> str:
    """A task or ensemble name: it becomes part of file names, so it may not leave the output folder."""
    name = str(value) if _integer(value) else value
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise PromptlearnError(
            f"{origin}: {key} {value!r} is not a usable name: names become file names (run folders, plots), so use "
            "letters, digits, '-', '_' and '.' (not first), e.g. sst2 or my-task_v2"
        )
    return name


def _as_list(value, key: str, origin: str) -> list:
    if isinstance(value, str | int) and not isinstance(value, bool):
        return [value]
    if not isinstance(value, list):
        raise PromptlearnError(f"{origin}: {key} must be a list, got {value!r}")
    return value


def _shot(value, origin: str) -> int | str:
    if value == ALL_SHOTS or (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        return value
    raise PromptlearnError(f"{origin}: each K is a positive integer or {ALL_SHOTS!r}, got {value!r}")


def _train_settings(settings: dict, origin: str) -> dict:
    if not isinstance(settings, dict):
        raise PromptlearnError(f"{origin} must be a mapping of RunConfig fields, e.g. {{max_steps: 100}}")
    grid_set = sorted(set(settings) & (GRID_FIELDS | COLUMN_FIELDS))
    if grid_set:
        raise PromptlearnError(f"{origin}: {grid_set} are set by the grid (top-level or per-task keys), not here")
    _check_keys(settings, TRAIN_FIELDS, origin)
    if all(settings.get(key) is not None for key in ("max_steps", "epochs")):
        raise PromptlearnError(f"{origin}: give max_steps or epochs, not both")
    return dict(settings)


def _search(search: dict, origin: str) -> dict[str, list] | OptunaSearch:
    if not isinstance(search, dict):
        raise PromptlearnError(f"{origin} maps a hyperparameter to the values to try, e.g. {{learning_rate: [1e-5]}}")
    if "backend" in search:
        return OptunaSearch.parse(search, origin)
    _check_keys(search, set(SEARCHABLE), origin)
    for key, values in search.items():
        if not isinstance(values, list) or not values:
            raise PromptlearnError(f"{origin}.{key} must be a non-empty list of values, got {values!r}")
    return dict(search)


SEARCH_COMBINES = ("best", "mean")


def _search_combine(value, origin: str) -> str:
    if value not in SEARCH_COMBINES:
        raise PromptlearnError(
            f"{origin}: search_combine must be 'best' (the candidate with the best dev accuracy) or 'mean' "
            f"(the mean probabilities of every candidate), got {value!r}"
        )
    return value


def _ensembles(ensembles: dict, modes: list[str], origin: str) -> dict[str, list[str]]:
    """Check ``ensembles`` (name -> list of modes); one whose modes are not all in the grid is unused
    (as ``mode_settings`` of a mode that ``--modes`` leaves out). Names must not be modes themselves."""
    from promptlearn.modes import MODES

    if not isinstance(ensembles, dict):
        raise PromptlearnError(f"{origin}: maps an ensemble's name to its modes, e.g. {{recipe: [pet, mlm_head]}}")
    known = [ZERO_SHOT, *sorted(MODES), *PET_MODES]
    used = {}
    for name, members in ensembles.items():
        name = _name(name, "ensemble name", origin)
        if name in known:
            raise PromptlearnError(f"{origin}: {name!r} is a mode's name; give the ensemble another name")
        members = _as_list(members, f"ensembles.{name}", origin)
        unknown = [m for m in members if m not in known]
        if not members or unknown:
            raise PromptlearnError(f"{origin}: {name} lists modes from {', '.join(known)}, got {members!r}")
        if set(members) <= set(modes):
            used[name] = list(members)
    return used


def _candidates(search: dict[str, list] | OptunaSearch) -> list[dict]:
    if isinstance(search, OptunaSearch):
        return [{}]  # its trials are drawn while the run trains
    keys = sorted(search)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(search[k] for k in keys))] or [{}]


def _task(entry, data_root: str | None, shots: list, dev_split: str, origin: str) -> TaskSpec:
    if isinstance(entry, str):
        entry = {"name": entry}
    if not isinstance(entry, dict) or "name" not in entry:
        raise PromptlearnError(f"{origin}: a task is a preset name or a mapping with at least 'name'")
    _check_keys(entry, TASK_KEYS, origin)
    name = _name(entry["name"], "name", origin)
    for key in ("data", "dev_split", *sorted(COLUMN_FIELDS)):
        _text(entry.get(key), key, origin)
    data = entry.get("data")
    if data is None:
        if data_root is None:
            raise PromptlearnError(f"{origin}: give the task's 'data' folder, or a top-level 'data_root'")
        data = str(Path(data_root) / name)
    patterns = entry.get("patterns")
    words = entry.get("verbalizer")
    if (patterns is None or words is None) and name not in available_tasks():
        raise PromptlearnError(_no_preset(name, str(data), origin, patterns is None, words is None))
    if patterns is None:
        resolved = [(p.id, p.pattern) for p in task_patterns(name)]
    else:
        resolved = [_pattern(p, i, name, origin) for i, p in enumerate(_as_list(patterns, "patterns", origin))]
    if words == "auto":  # searched per run, inside its own train/dev split (see api.fit)
        verbalizer = None
    elif words is None:  # a preset without label words (multiple choice): {} reads none, where None would search
        verbalizer = preset_words(name) or {}
    elif isinstance(words, dict):
        verbalizer = Verbalizer.from_dict(words, origin=f"{origin}.verbalizer").to_dict()
    elif isinstance(words, str):
        verbalizer = Verbalizer.parse(words).to_dict()
    else:
        raise PromptlearnError(
            f"{origin}: verbalizer is a mapping of each label to its words (e.g. {{positive: [great]}}), a .yaml/.json "
            f"file of one, 'label=word,...' or 'auto'; got {words!r}"
        )
    task_shots = [_shot(k, f"{origin}.shots") for k in _as_list(entry.get("shots", shots), "shots", origin)]
    task_dev = entry.get("dev_split", dev_split)
    if task_dev not in DEV_SPLITS:
        raise PromptlearnError(f"{origin}: dev_split must be one of {', '.join(DEV_SPLITS)}, got {task_dev!r}")
    columns = {key: str(entry[key]) for key in COLUMN_FIELDS if key in entry}
    recipe = entry.get("recipe")
    if recipe is not None and recipe != "auto":
        raise PromptlearnError(f"{origin}: recipe must be 'auto' (train --recipe auto per K and seed), got {recipe!r}")
    return TaskSpec(name, str(data), tuple(resolved), verbalizer, tuple(task_shots), task_dev, columns, recipe)


def _no_preset(name: str, data: str, origin: str, no_patterns: bool, no_words: bool) -> str:
    missing = " and ".join(key for key, absent in (("patterns", no_patterns), ("verbalizer", no_words)) if absent)
    return (
        f"{origin}: task {name!r} has no preset (presets: {', '.join(available_tasks())}), so give its {missing} "
        "in the experiment file (--config), as a task mapping, e.g.\n"
        f"tasks:\n  - name: {name}\n    data: {data}\n"
        '    patterns: ["{text} It was [MASK] ."]\n'
        "    verbalizer: {positive: [great], negative: [terrible]}   # every label of the data: its words\n"
        "(see docs/fewshot.md, 'The YAML schema')"
    )


def _pattern(value, index: int, task: str, origin: str) -> tuple[int, str]:
    """A preset id (int) resolves through the task's template file; a string is the pattern itself."""
    if _integer(value):
        from promptlearn.prompt.presets import task_pattern

        return value, task_pattern(task, value).pattern
    if not isinstance(value, str):
        raise PromptlearnError(f"{origin}: patterns[{index}] is a pattern text or a preset pattern id, got {value!r}")
    Pattern.parse(value, origin=f"task {task}, pattern {index}")
    return index, value
