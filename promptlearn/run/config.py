"""RunConfig: everything one training run needs, built once, validated once, saved beside the result."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from promptlearn.data.examples import Columns
from promptlearn.data.sampling import DEFAULT_DEV_SPLIT, check_dev_split
from promptlearn.errors import PromptlearnError
from promptlearn.hub import is_local_path
from promptlearn.run import features
from promptlearn.run.feature import OMITTED_AT_DEFAULT, PATH, UNSAVED, Use, option, refuse_unserved

if TYPE_CHECKING:
    from promptlearn.tasks.base import TaskShape

DEFAULT_MAX_STEPS = 250
#: numpy seeds its generators with unsigned 32-bit integers
MAX_SEED = 2**32 - 1
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
#: how multi-token label words are scored at evaluation (see promptlearn.readout.label_words)
DECODINGS = ("one-pass", "exact", "confident")
#: a multi-token word's score: mean or sum of its tokens' log-probabilities
WORD_SCORES = ("mean", "sum")
#: at evaluation, a multi-token word is read at the longest word's masks or at its own count (PET's)
WORD_MASKS = ("longest", "own")


#: RunConfig's last fields, after the features' options: where the run was configured from
TRAILING_FIELDS = ("working_dir", "as_given")


def with_feature_options(cls: type) -> type:
    """Give ``cls`` (before ``@dataclass`` reads it) every registered feature's options as fields, in
    registry order (:data:`promptlearn.run.features.FEATURES`), before :data:`TRAILING_FIELDS`.

    So a feature declares its options once, in its own module, and RunConfig gains them by its registration
    alone; ``config.json`` lists them in that order."""
    own = dict(cls.__annotations__)
    trailing = {name: own.pop(name) for name in TRAILING_FIELDS}
    for feature in features.FEATURES:
        for name, (annotation, declared) in feature.options.items():
            if name in own:
                raise TypeError(f"{type(feature).__name__} declares option {name!r}, which RunConfig already has")
            own[name] = annotation
            setattr(cls, name, declared)
    cls.__annotations__ = own | trailing
    return cls


@dataclass
@with_feature_options
class RunConfig:
    """A fully resolved run: re-running it from its ``config.json`` gives the same numbers on CPU.

    ``pattern`` and ``verbalizer`` hold the resolved text and words, even when they came from a
    task preset (``task`` / ``pattern_id`` record where from); ``labels`` is the class order,
    filled in when the data is read. ``learning_rate=None`` uses the
    mode's default. ``dev_split`` says what dev (the checkpoint-selection set) is, see
    :func:`promptlearn.data.sampling.few_shot`: with ``shots``, "sampled" (the default) takes K per label from
    the rest of train and "given" the data's dev split; without ``shots`` (the full train split) dev
    is the given split, or a 10 % slice of train when the data has none.
    ``calibrate`` (:mod:`promptlearn.run.calibration`), ``demonstrations`` and its options
    (:mod:`promptlearn.run.demonstrations`) and ``verbalizer_search`` (:mod:`promptlearn.run.label_search`;
    the search replaces ``verbalizer`` inside the run's own train/dev split) improve the prompt without a
    human in the loop. Each run-level feature declares its options in its own module and checks them there
    (:mod:`promptlearn.run.feature`); :func:`with_feature_options` makes them fields here, in registry order:
    ``aux_mlm_weight``, ``unlabeled``, ``soft_labels``, ``temperature``, ``calibrate``, the four
    ``demonstration`` options and ``verbalizer_search``.
    Exactly one of ``max_steps`` / ``epochs`` bounds training (250 steps if neither).
    ``group_by_length``: training batches of similar lengths (:mod:`promptlearn.training.batching`), each
    padded to its own longest; False draws uniformly shuffled batches.
    ``decoding``, ``word_score``, ``word_masks``: how multi-token label words are scored
    (:mod:`promptlearn.readout.label_words`; PET's own choice is confident, sum, own).
    ``aux_mlm_weight`` w > 0 adds PET's auxiliary masked-LM loss, ``(1 - w) * task + w * MLM``, on
    ``unlabeled`` (a data file) or, when that is None, the train split's texts outside the run's train and dev.
    ``soft_labels`` (a file, see :mod:`promptlearn.run.soft_labels`) makes training learn one distribution per
    train example by KL at ``temperature`` instead of the labels (distillation, e.g. PET's final model).
    Fields with a ``help`` in their metadata are ``promptlearn train``'s options (declared here or in their
    feature's module only); fields marked ``path`` name local files.
    ``working_dir`` is the folder relative paths were given in; :meth:`anchored` fills it and makes
    local paths absolute, keeping what was typed in ``as_given``, so a run folder works from anywhere.
    """

    model: str
    data: str
    pattern: str
    verbalizer: dict[str, list[str]] | None = None
    labels: list[str] | None = None
    task: str | None = None
    pattern_id: int | None = None
    mode: str = option("pet", "What to train; `promptlearn modes` lists them.")
    mode_options: dict = field(default_factory=dict)
    shots: int | None = option(None, "K examples per label for train (and for dev, if sampled from train).")
    seed: int = option(13, "Seed for sampling, initialisation and shuffling.")
    dev_split: str = option(
        DEFAULT_DEV_SPLIT, "With --shots, select on 'sampled' (K per label from the rest of train) or 'given' (dev)."
    )
    text_column: str = option("text", "Column holding the (first) text.")
    text_b_column: str = option("text_b", "Column holding the second text of pair tasks.")
    label_column: str = option("label", "Column holding the label.")
    max_length: int = option(128, "Token budget per example; only input slots are truncated.")
    batch_size: int = option(8, "Training batch size (per process).")
    eval_batch_size: int = option(64, "Evaluation batch size.")
    learning_rate: float | None = option(None, "Learning rate of the mode's main parameters (default: the mode's).")
    weight_decay: float = option(0.01, "AdamW weight decay.")
    warmup_ratio: float = option(0.06, "Fraction of steps with linear warm-up.")
    max_steps: int | None = option(None, f"Optimizer steps ({DEFAULT_MAX_STEPS} unless --epochs is given).")
    epochs: float | None = option(None, "Train for this many passes over train instead of --max-steps.")
    grad_accum: int = option(1, "Batches per optimizer step.")
    group_by_length: bool = option(
        True, "Training batches of similar lengths, each padded to its longest (off: shuffled batches)."
    )
    eval_every: int = option(25, "Evaluate on dev every N steps; the best-on-dev weights are kept.")
    patience: int | None = option(None, "Stop after N evaluations without dev improvement.")
    max_grad_norm: float = 1.0
    precision: str = option("auto", "auto (bf16 on GPU, fp32 on CPU), fp32, bf16 or fp16.")
    compile: bool = option(False, "torch.compile the encoder.")
    decoding: str = option(
        "one-pass",
        "Multi-token label words at evaluation: 'one-pass', 'exact' (left to right) or 'confident' (PET's).",
    )
    word_score: str = option("mean", "A multi-token word's score: 'mean' or 'sum' (PET's) of its log-probabilities.")
    word_masks: str = option(
        "longest", "At evaluation, read each label word at the longest word's masks or at its 'own' count (PET's)."
    )
    # here :func:`with_feature_options` inserts every registered feature's options
    working_dir: str | None = None
    as_given: dict = field(default_factory=dict)

    def __post_init__(self):
        _check_types(self)
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise PromptlearnError(f"{flag(item.name)} must be a finite number, got {value}")
        if self.max_steps is not None and self.epochs is not None:
            raise PromptlearnError("Give --max-steps or --epochs, not both")
        if self.max_steps is None and self.epochs is None:
            self.max_steps = DEFAULT_MAX_STEPS
        _positive(
            max_length=self.max_length,
            batch_size=self.batch_size,
            eval_batch_size=self.eval_batch_size,
            grad_accum=self.grad_accum,
            eval_every=self.eval_every,
        )
        _positive(
            max_steps=self.max_steps,
            epochs=self.epochs,
            shots=self.shots,
            patience=self.patience,
            learning_rate=self.learning_rate,
        )
        if not 0 <= self.warmup_ratio < 1:
            raise PromptlearnError(f"--warmup-ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.weight_decay < 0:
            raise PromptlearnError(f"--weight-decay must be >= 0, got {self.weight_decay}")
        if self.max_grad_norm <= 0:
            raise PromptlearnError(f"max_grad_norm must be positive, got {self.max_grad_norm}")
        check_dev_split(self.dev_split)
        if self.decoding not in DECODINGS:
            raise PromptlearnError(f"--decoding must be one of {', '.join(DECODINGS)}, got {self.decoding!r}")
        if self.word_score not in WORD_SCORES:
            raise PromptlearnError(f"--word-score must be one of {', '.join(WORD_SCORES)}, got {self.word_score!r}")
        if self.word_masks not in WORD_MASKS:
            raise PromptlearnError(f"--word-masks must be one of {', '.join(WORD_MASKS)}, got {self.word_masks!r}")
        if self.precision not in PRECISIONS:
            raise PromptlearnError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if not 0 <= self.seed <= MAX_SEED:
            raise PromptlearnError(f"--seed must be between 0 and {MAX_SEED}, got {self.seed}")
        if self.labels is not None and (
            not all(isinstance(label, str) for label in self.labels) or len(set(self.labels)) != len(self.labels)
        ):
            raise PromptlearnError(f"labels must be a list of distinct label names (strings), got {self.labels!r}")
        if self.verbalizer:
            from promptlearn.prompt.verbalizer import Verbalizer

            Verbalizer.from_dict(self.verbalizer)  # the words' checks, made where the file's values arrive
        for feature in features.FEATURES:
            feature.check(self)

    def check_shape(self, shape: TaskShape, also: tuple[Use, ...] = ()) -> None:
        """Refuse what this run uses that does not serve ``shape``, once the shape is known
        (:func:`~promptlearn.run.pvp.build_pvp`): the features, and ``also`` (the mode), whose declared shapes leave
        it out, all in one message (:func:`~promptlearn.run.feature.refuse_unserved`); then each feature's
        option values that have no meaning on it (:meth:`~promptlearn.run.feature.Feature.check_shape`)."""
        refuse_unserved(shape, [*also, *((feature.used(self), feature.shapes) for feature in features.FEATURES)])
        for feature in features.FEATURES:
            feature.check_shape(self, shape)

    @classmethod
    def from_dict(cls, values: dict, origin: str = "config") -> RunConfig:
        """Build from a dict (e.g. a saved ``config.json``); unknown keys are errors."""
        if not isinstance(values, dict):
            kind = _KINDS.get(type(values), "null" if values is None else type(values).__name__)
            raise PromptlearnError(f"{origin}: a run config is a mapping of keys to values, got {kind}")
        if "dev_from_train" in values:  # a config.json written before dev_split replaced this flag
            values = dict(values)
            values.setdefault("dev_split", "sampled" if values.pop("dev_from_train") else "given")
        if "group_by_length" not in values:  # written before batches were grouped: it trained on shuffled ones
            values = values | {"group_by_length": False}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise PromptlearnError(f"{origin}: unknown keys {unknown}; known keys: {sorted(known)}")
        missing = [name for name in ("model", "data", "pattern") if name not in values]
        if missing:
            raise PromptlearnError(f"{origin}: missing keys {missing}")
        try:
            return cls(**values)
        except PromptlearnError as err:
            raise PromptlearnError(f"{origin}: {as_keys(str(err))}") from None

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")), origin=str(path))
        except (OSError, json.JSONDecodeError) as err:
            raise PromptlearnError(f"Cannot read run config {path}: {err}") from err

    def anchored(self) -> RunConfig:
        """Local paths made absolute against ``working_dir``, which defaults to the current folder: ``model`` and
        ``data`` when they name local folders (Hub names are left as they are), every field marked ``path``
        (``unlabeled``, ``soft_labels``) and every mode option the mode declares a path (ppt's ``prompt``,
        soft_prompt's ``init=file:PATH``: :meth:`~promptlearn.modes.base.Mode.option_paths`).
        """
        base = Path(self.working_dir or Path.cwd()).resolve()
        fields = {name: _anchor(value, base) for name, value in {"model": self.model, "data": self.data}.items()}
        fields |= {name: _anchor(value, base, always=True) for name, value in self._file_fields().items()}
        mode, paths = self._mode_paths()
        options = {name: _anchor(value, base, always=True) for name, value in paths.items()}
        options = mode.with_option_paths(self.mode_options, options) if options else self.mode_options
        typed = {name: getattr(self, name) for name in fields} | {name: self.mode_options[name] for name in paths}
        now = fields | {name: options[name] for name in paths}
        changed = {name: value for name, value in typed.items() if now[name] != value}
        return self.replace(**fields, mode_options=options, working_dir=str(base), as_given=changed | self.as_given)

    def input_paths(self) -> dict[str, str | None]:
        """The paths a run reads, by flag: its output folder must not overlap any (see
        :func:`~promptlearn.outputs.check_output_free`)."""
        paths = {"--model": self.model, "--data": self.data}
        paths |= {flag(name): getattr(self, name) for name in self._file_fields(unset=True)}
        return paths | {flag(name): path for name, path in self._mode_paths()[1].items()}

    def columns(self) -> Columns:
        """Which columns of the data files hold the texts and the label."""
        return Columns(
            text=self.text_column,
            text_b=self.text_b_column,
            label=self.label_column,
            label_delimiter=self.label_delimiter,
        )

    def _file_fields(self, unset: bool = False) -> dict[str, str | None]:
        """The fields marked ``path`` (in field order), by name; only those set unless ``unset``."""
        found = {item.name: getattr(self, item.name) for item in dataclasses.fields(self) if PATH in item.metadata}
        return {name: value for name, value in found.items() if unset or value is not None}

    def _mode_paths(self) -> tuple[type | None, dict[str, str]]:
        """The mode's class and the local paths among its options, by option name (modes load torch: only
        a run with mode options asks)."""
        if not self.mode_options:
            return None, {}
        from promptlearn.modes import get_mode

        mode = get_mode(self.mode)
        return mode, mode.option_paths(self.mode_options)

    def to_dict(self) -> dict:
        """The settings ``config.json`` saves: every field but the options marked unsaved (where the run is
        reported, see :data:`~promptlearn.run.feature.UNSAVED`) and those omitted at their default that hold it
        (:data:`~promptlearn.run.feature.OMITTED_AT_DEFAULT`)."""
        unsaved = {item.name for item in dataclasses.fields(self) if UNSAVED in item.metadata}
        unsaved |= {
            item.name
            for item in dataclasses.fields(self)
            if OMITTED_AT_DEFAULT in item.metadata and getattr(self, item.name) == item.default
        }
        return {name: value for name, value in dataclasses.asdict(self).items() if name not in unsaved}

    def replace(self, **changes) -> RunConfig:
        return dataclasses.replace(self, **changes)


#: command-line flags whose name differs from the field's
_FLAGS = {"learning_rate": "--lr"}


def flag(name: str) -> str:
    """How a field is named in messages: its command-line flag (:func:`as_keys` turns it back into the key)."""
    return _FLAGS.get(name, f"--{name.replace('_', '-')}")


def as_keys(message: str) -> str:
    """``message`` with every flag (``--max-steps``, ``--lr``) named as its key in a config file
    (``max_steps``, ``learning_rate``): a value read from a file is reported in that file's words."""
    keys = {option.removeprefix("--"): name for name, option in _FLAGS.items()}
    return re.sub(r"--([a-z][a-z-]*)", lambda m: keys.get(m[1], m[1].replace("-", "_")), message)


def _positive(**values) -> None:
    for name, value in values.items():
        if value is not None and value <= 0:
            raise PromptlearnError(f"{flag(name)} must be positive, got {value}")


def _anchor(value: str, base: Path, always: bool = False) -> str:
    """``value`` resolved against ``base`` when it names a local path (it exists there, or looks like one)."""
    if always or is_local_path(value, base):
        return str((base / Path(value).expanduser()).resolve())
    return value


_KINDS = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    dict: "a mapping",
    list: "a list",
}


def _check_types(config: RunConfig) -> None:
    """Refuse a value of the wrong type (e.g. from a hand-edited config.json), naming the field."""
    for name, hint in typing.get_type_hints(type(config)).items():
        value = getattr(config, name)
        allowed = tuple(typing.get_origin(t) or t for t in (typing.get_args(hint) or (hint,)))
        if float in allowed:
            allowed += (int,)
        if isinstance(value, allowed) and (not isinstance(value, bool) or bool in allowed):
            continue
        kinds = " or ".join(_KINDS.get(t, "null") for t in allowed if t is not int or float not in allowed)
        raise PromptlearnError(f"{name} must be {kinds}, got {value!r} ({type(value).__name__})")
