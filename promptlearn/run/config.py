"""RunConfig: everything one training run needs, built once, validated once, saved beside the result."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

from promptlearn.data.sampling import DEFAULT_DEV_SPLIT, DEV_SPLITS
from promptlearn.errors import PromptlearnError
from promptlearn.hub import is_local_path
from promptlearn.run.search_options import SearchOptions

DEFAULT_MAX_STEPS = 250
#: numpy seeds its generators with unsigned 32-bit integers
MAX_SEED = 2**32 - 1
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
#: how class probabilities are calibrated (:mod:`promptlearn.run.calibration`)
CALIBRATIONS = ("none", "content-free", "unlabeled")
#: how multi-token label words are scored at evaluation (see promptlearn.readout.label_words)
DECODINGS = ("one-pass", "exact", "confident")
#: a multi-token word's score: mean or sum of its tokens' log-probabilities
WORD_SCORES = ("mean", "sum")
#: at evaluation, a multi-token word is read at the longest word's masks or at its own count (PET's)
WORD_MASKS = ("longest", "own")


def _option(default, help: str):
    """A field that is also a ``promptlearn train`` option: its flag is :func:`flag` of its name."""
    return field(default=default, metadata={"help": help})


@dataclass
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
    (:mod:`promptlearn.prompt.demonstrations`) and ``verbalizer_search`` (a dict of
    :class:`promptlearn.run.search_options.SearchOptions`; the search replaces ``verbalizer`` inside the
    run's own train/dev split) improve the prompt without a human in the loop.
    Exactly one of ``max_steps`` / ``epochs`` bounds training (250 steps if neither).
    ``group_by_length``: training batches of similar lengths (:mod:`promptlearn.training.batching`), each
    padded to its own longest; False draws uniformly shuffled batches.
    ``decoding``, ``word_score``, ``word_masks``: how multi-token label words are scored
    (:mod:`promptlearn.readout.label_words`; PET's own choice is confident, sum, own).
    ``aux_mlm_weight`` w > 0 adds PET's auxiliary masked-LM loss, ``(1 - w) * task + w * MLM``, on
    ``unlabeled`` (a data file) or, when that is None, the train split's texts outside the run's train and dev.
    ``soft_labels`` (a file, see :mod:`promptlearn.run.soft_labels`) makes training learn one distribution per
    train example by KL at ``temperature`` instead of the labels (distillation, e.g. PET's final model).
    Fields with a ``help`` in their metadata are ``promptlearn train``'s options (declared here only).
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
    mode: str = _option("pet", "What to train; `promptlearn modes` lists them.")
    mode_options: dict = field(default_factory=dict)
    shots: int | None = _option(None, "K examples per label for train (and for dev, if sampled from train).")
    seed: int = _option(13, "Seed for sampling, initialisation and shuffling.")
    dev_split: str = _option(
        DEFAULT_DEV_SPLIT, "With --shots, select on 'sampled' (K per label from the rest of train) or 'given' (dev)."
    )
    text_column: str = _option("text", "Column holding the (first) text.")
    text_b_column: str = _option("text_b", "Column holding the second text of pair tasks.")
    label_column: str = _option("label", "Column holding the label.")
    max_length: int = _option(128, "Token budget per example; only input slots are truncated.")
    batch_size: int = _option(8, "Training batch size (per process).")
    eval_batch_size: int = _option(64, "Evaluation batch size.")
    learning_rate: float | None = _option(None, "Learning rate of the mode's main parameters (default: the mode's).")
    weight_decay: float = _option(0.01, "AdamW weight decay.")
    warmup_ratio: float = _option(0.06, "Fraction of steps with linear warm-up.")
    max_steps: int | None = _option(None, f"Optimizer steps ({DEFAULT_MAX_STEPS} unless --epochs is given).")
    epochs: float | None = _option(None, "Train for this many passes over train instead of --max-steps.")
    grad_accum: int = _option(1, "Batches per optimizer step.")
    group_by_length: bool = _option(
        True, "Training batches of similar lengths, each padded to its longest (off: shuffled batches)."
    )
    eval_every: int = _option(25, "Evaluate on dev every N steps; the best-on-dev weights are kept.")
    patience: int | None = _option(None, "Stop after N evaluations without dev improvement.")
    max_grad_norm: float = 1.0
    precision: str = _option("auto", "auto (bf16 on GPU, fp32 on CPU), fp32, bf16 or fp16.")
    compile: bool = _option(False, "torch.compile the encoder.")
    decoding: str = _option(
        "one-pass",
        "Multi-token label words at evaluation: 'one-pass', 'exact' (left to right) or 'confident' (PET's).",
    )
    word_score: str = _option("mean", "A multi-token word's score: 'mean' or 'sum' (PET's) of its log-probabilities.")
    word_masks: str = _option(
        "longest", "At evaluation, read each label word at the longest word's masks or at its 'own' count (PET's)."
    )
    aux_mlm_weight: float = _option(
        0.0, "w > 0: loss = (1 - w) task + w MLM on unlabelled text (PET's auxiliary loss; cloze modes)."
    )
    unlabeled: str | None = _option(
        None, "Data file of unlabelled texts for --aux-mlm-weight (default: train texts outside the run's split)."
    )
    soft_labels: str | None = _option(
        None, "Distillation: label distributions, one JSON list per train example, learned by KL (no --shots)."
    )
    temperature: float = _option(1.0, "With --soft-labels: the temperature of the KL (PET distils at 2).")
    calibrate: str = _option("none", "Divide out the prompt's label bias: none, content-free or unlabeled.")
    demonstrations: bool = _option(False, "Append one filled-in training example per label to every input (LM-BFF).")
    demonstration_sets: int = _option(16, "[--demonstrations] Draws averaged at prediction.")
    demonstration_length: int = _option(64, "[--demonstrations] Token budget of each demonstration.")
    similar_demonstrations: bool = _option(False, "[--demonstrations] Draw from the closer half of each label's.")
    verbalizer_search: dict | None = None
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
        if self.dev_split not in DEV_SPLITS:
            raise PromptlearnError(f"--dev-split must be one of {', '.join(DEV_SPLITS)}, got {self.dev_split!r}")
        if self.decoding not in DECODINGS:
            raise PromptlearnError(f"--decoding must be one of {', '.join(DECODINGS)}, got {self.decoding!r}")
        if self.word_score not in WORD_SCORES:
            raise PromptlearnError(f"--word-score must be one of {', '.join(WORD_SCORES)}, got {self.word_score!r}")
        if self.word_masks not in WORD_MASKS:
            raise PromptlearnError(f"--word-masks must be one of {', '.join(WORD_MASKS)}, got {self.word_masks!r}")
        if not 0 <= self.aux_mlm_weight < 1:
            raise PromptlearnError(f"--aux-mlm-weight must be in [0, 1), got {self.aux_mlm_weight}")
        if self.temperature <= 0:
            raise PromptlearnError(f"--temperature must be positive, got {self.temperature}")
        if self.temperature != 1 and self.soft_labels is None:
            raise PromptlearnError("--temperature softens soft labels: give --soft-labels FILE too")
        if self.soft_labels is not None and self.shots is not None:
            raise PromptlearnError(
                "--soft-labels has one line per example of the whole train split; sampling K with --shots would "
                "misalign them: leave --shots out"
            )
        if self.precision not in PRECISIONS:
            raise PromptlearnError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.calibrate not in CALIBRATIONS:
            raise PromptlearnError(f"--calibrate must be one of {', '.join(CALIBRATIONS)}, got {self.calibrate!r}")
        _positive(demonstration_sets=self.demonstration_sets, demonstration_length=self.demonstration_length)
        if not 0 <= self.seed <= MAX_SEED:
            raise PromptlearnError(f"--seed must be between 0 and {MAX_SEED}, got {self.seed}")
        if self.labels is not None and (
            not all(isinstance(label, str) for label in self.labels) or len(set(self.labels)) != len(self.labels)
        ):
            raise PromptlearnError(f"labels must be a list of distinct label names (strings), got {self.labels!r}")
        if self.verbalizer:
            from promptlearn.prompt.verbalizer import Verbalizer

            Verbalizer.from_dict(self.verbalizer)  # the words' checks, made where the file's values arrive
        if self.verbalizer_search is not None:
            SearchOptions.check(self.verbalizer_search)

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
        """Local paths (``model``, ``data``, ``unlabeled``, ``soft_labels``, ``mode_options["prompt"]``) made absolute
        against ``working_dir``, which defaults to the current folder; Hub names are left as they are.
        """
        base = Path(self.working_dir or Path.cwd()).resolve()
        paths = {"model": self.model, "data": self.data}
        files = {key: getattr(self, key) for key in ("unlabeled", "soft_labels") if getattr(self, key) is not None}
        paths |= files
        if isinstance(self.mode_options.get("prompt"), str):
            paths["prompt"] = self.mode_options["prompt"]
        always = {"prompt", *files}
        resolved = {key: _anchor(value, base, always=key in always) for key, value in paths.items()}
        changed = {key: paths[key] for key in paths if resolved[key] != paths[key]}
        options = self.mode_options | ({"prompt": resolved["prompt"]} if "prompt" in resolved else {})
        return self.replace(
            model=resolved["model"], data=resolved["data"], unlabeled=resolved.get("unlabeled"),
            soft_labels=resolved.get("soft_labels"), mode_options=options, working_dir=str(base),
            as_given=changed | self.as_given,
        )  # fmt: skip

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

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
