"""RunConfig: everything one training run needs, built once, validated once, saved beside the result."""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path

from promptlearn.errors import PromptlearnError
from promptlearn.hub import is_local_path

DEFAULT_MAX_STEPS = 250
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
#: where dev comes from: "sampled" = K per label from the rest of train (LM-BFF), "given" = the data's dev split
DEV_SPLITS = ("sampled", "given")
DEFAULT_DEV_SPLIT = "sampled"


@dataclass
class RunConfig:
    """A fully resolved run: re-running it from its ``config.json`` gives the same numbers on CPU.

    ``pattern`` and ``verbalizer`` hold the resolved text and words, even when they came from a
    task preset (``task`` / ``pattern_id`` record where from); ``labels`` is the class order,
    filled in when the data is read. ``learning_rate=None`` uses the
    mode's default. ``dev_split`` says what dev (the checkpoint-selection set) is, see
    :func:`promptlearn.data.few_shot`: with ``shots``, "sampled" (the default) takes K per label from
    the rest of train and "given" the data's dev split; without ``shots`` (the full train split) dev
    is the given split, or a 10 % slice of train when the data has none.
    Exactly one of ``max_steps`` / ``epochs`` bounds training (250 steps if neither).
    ``group_by_length``: training batches of similar lengths (:mod:`promptlearn.batching`), each
    padded to its own longest; False draws uniformly shuffled batches.
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
    mode: str = "pet"
    mode_options: dict = field(default_factory=dict)
    shots: int | None = None
    seed: int = 13
    dev_split: str = DEFAULT_DEV_SPLIT
    text_column: str = "text"
    text_b_column: str = "text_b"
    label_column: str = "label"
    max_length: int = 128
    batch_size: int = 8
    eval_batch_size: int = 64
    learning_rate: float | None = None
    weight_decay: float = 0.01
    warmup_ratio: float = 0.06
    max_steps: int | None = None
    epochs: float | None = None
    grad_accum: int = 1
    group_by_length: bool = True
    eval_every: int = 25
    patience: int | None = None
    max_grad_norm: float = 1.0
    precision: str = "auto"
    compile: bool = False
    working_dir: str | None = None
    as_given: dict = field(default_factory=dict)

    def __post_init__(self):
        _check_types(self)
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
        if self.dev_split not in DEV_SPLITS:
            raise PromptlearnError(f"--dev-split must be one of {', '.join(DEV_SPLITS)}, got {self.dev_split!r}")
        if self.precision not in PRECISIONS:
            raise PromptlearnError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")

    @classmethod
    def from_dict(cls, values: dict, origin: str = "config") -> RunConfig:
        """Build from a dict (e.g. a saved ``config.json``); unknown keys are errors."""
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
            raise PromptlearnError(f"{origin}: {err}") from None

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")), origin=str(path))
        except (OSError, json.JSONDecodeError) as err:
            raise PromptlearnError(f"Cannot read run config {path}: {err}") from err

    def anchored(self) -> RunConfig:
        """Local paths (``model``, ``data``, ``mode_options["prompt"]``) made absolute against ``working_dir``.

        ``working_dir`` defaults to the current folder; Hub names are left as they are.
        """
        base = Path(self.working_dir or Path.cwd()).resolve()
        paths = {"model": self.model, "data": self.data}
        if isinstance(self.mode_options.get("prompt"), str):
            paths["prompt"] = self.mode_options["prompt"]
        resolved = {key: _anchor(value, base, always=key == "prompt") for key, value in paths.items()}
        changed = {key: paths[key] for key in paths if resolved[key] != paths[key]}
        options = self.mode_options | ({"prompt": resolved["prompt"]} if "prompt" in resolved else {})
        return self.replace(
            model=resolved["model"], data=resolved["data"], mode_options=options, working_dir=str(base),
            as_given=changed | self.as_given,
        )  # fmt: skip

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> RunConfig:
        return dataclasses.replace(self, **changes)


#: command-line flags whose name differs from the field's
_FLAGS = {"learning_rate": "--lr"}


def flag(name: str) -> str:
    """How a field is named in messages: its command-line flag (``fewshot`` turns it back into the YAML key)."""
    return _FLAGS.get(name, f"--{name.replace('_', '-')}")


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
