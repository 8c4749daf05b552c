"""BenchConfig: what one ``promptlearn bench`` run measures; Case: one configuration, run in its own process."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from promptlearn.errors import PromptlearnError
from promptlearn.run.config import PRECISIONS

COMPILE_CHOICES = ("off", "on", "both")
PHASES = ("train", "eval")
#: hand-written pipelines every mode is compared with (promptlearn.bench.naive, promptlearn.bench.plain)
REFERENCES = ("naive", "plain")
#: the phase that evaluates a real dataset file (``BenchConfig.eval_data``) rather than synthetic inputs
EVAL_DATA = "eval_data"
#: the phase that trains on a few-shot sample of a real dataset (``BenchConfig.train_data``)
TRAIN_DATA = "train_data"
#: phases on real data, whose inputs have their own lengths
DATA_PHASES = (EVAL_DATA, TRAIN_DATA)


@dataclass
class BenchConfig:
    """Settings shared by every measured configuration.

    ``model``: a folder or Hub id; with ``random_weights`` only its config is read and the weights
    are random (speed does not depend on them). ``modes``: registered mode names (None: all).
    Training runs ``warmup_steps`` untimed then ``steps`` timed optimizer steps on synthetic inputs
    of exactly ``seq_len`` tokens; evaluation times ``steps`` batches of them. ``eval_data``: a
    labelled .jsonl/.csv/.tsv file evaluated whole, promptlearn's way against the references.
    ``train_data``: a dataset (folder or file with a train split) whose few-shot sample (``shots``
    per label, ``seed``) trains for ``warmup_steps`` + ``steps`` at ``train``'s default batch size,
    promptlearn's way against the references padding to ``eval_max_length``.
    ``references``: which hand-written pipelines to measure beside the modes (see ``REFERENCES``).
    ``phases``: which synthetic phases to measure (``PHASES``). ``repeat``: run the whole plan
    this many times, round-robin, and keep each row's fastest measurement.
    ``threads``: CPU threads per process (None: torch's default); 1 keeps OpenMP from spinning
    against other jobs on a shared machine.
    """

    model: str
    random_weights: bool = False
    modes: list[str] | None = None
    references: list[str] = field(default_factory=lambda: list(REFERENCES))
    mode_options: dict[str, dict] = field(default_factory=dict)
    batch_sizes: list[int] = field(default_factory=lambda: [32])
    seq_len: int = 128
    steps: int = 10
    phases: list[str] = field(default_factory=lambda: list(PHASES))
    repeat: int = 1
    warmup_steps: int = 3
    precision: str = "auto"
    compile: str = "off"
    pattern: str = "{text} It was [MASK] ."
    verbalizer: dict[str, list[str]] = field(default_factory=lambda: {"positive": ["great"], "negative": ["terrible"]})
    eval_data: str | None = None
    eval_batch_size: int = 64
    eval_max_length: int = 128
    train_data: str | None = None
    shots: int = 16
    peak_tflops: float | None = None
    seed: int = 13
    threads: int | None = None
    timeout_s: float = 1800.0

    def __post_init__(self):
        for name in (
            "seq_len",
            "steps",
            "warmup_steps",
            "eval_batch_size",
            "eval_max_length",
            "shots",
            "repeat",
            "timeout_s",
        ):
            if getattr(self, name) <= 0:
                raise PromptlearnError(f"--{name.replace('_', '-')} must be positive, got {getattr(self, name)}")
        if not self.batch_sizes or min(self.batch_sizes) <= 0:
            raise PromptlearnError(f"--batch-size must be given and positive, got {self.batch_sizes}")
        if self.precision not in PRECISIONS:
            raise PromptlearnError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.compile not in COMPILE_CHOICES:
            raise PromptlearnError(f"--compile must be one of {', '.join(COMPILE_CHOICES)}, got {self.compile!r}")
        if [p for p in self.phases if p not in PHASES]:
            raise PromptlearnError(f"--phase must be one of {', '.join(PHASES)}, got {self.phases}")
        unknown = [r for r in self.references if r not in REFERENCES]
        if unknown:
            raise PromptlearnError(f"--reference must be one of {', '.join(REFERENCES)}, got {unknown}")
        if self.threads is not None and self.threads <= 0:
            raise PromptlearnError(f"--threads must be positive, got {self.threads}")
        if self.peak_tflops is not None and self.peak_tflops <= 0:
            raise PromptlearnError(f"--peak-tflops must be positive, got {self.peak_tflops}")

    @property
    def compile_variants(self) -> tuple[bool, ...]:
        return {"off": (False,), "on": (True,), "both": (False, True)}[self.compile]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Case:
    """One measured configuration, in one phase: a mode, or (``mode=None``) the ``reference`` pipeline."""

    phase: str
    batch_size: int
    mode: str | None = None
    compile: bool = False
    reference: str = "naive"

    @property
    def system(self) -> str:
        """How a table names the row."""
        if self.mode is None:
            return self.reference
        return f"{self.mode} + compile" if self.compile else self.mode
