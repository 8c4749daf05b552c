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
#: how the plain reference pads a batch: to the batch's own longest example, or to the fixed length
PLAIN_PADDINGS = ("batch", "fixed")
#: the phase that evaluates a real dataset file (``BenchConfig.eval_data``) rather than synthetic inputs
EVAL_DATA = "eval_data"
#: the phase that trains on a few-shot sample of a real dataset (``BenchConfig.train_data``)
TRAIN_DATA = "train_data"
#: phases on real data, whose inputs have their own lengths
DATA_PHASES = (EVAL_DATA, TRAIN_DATA)


def _option(default, help: str):
    """A field that is also a ``promptlearn bench`` option (its flag: :func:`promptlearn.run.config.flag` of its
    name). List fields spell out their metadata: ``flag`` (the option is named in the singular), ``short``."""
    return field(default=default, metadata={"help": help})


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
    ``plain_padding``: 'batch' (the default) cuts each of plain's batches to its longest example, the fair
    reference on real data; 'fixed' pads them to ``eval_max_length`` as naive does (synthetic inputs are
    ``seq_len`` long either way).
    ``references``: which hand-written pipelines to measure beside the modes (see ``REFERENCES``).
    ``phases``: which synthetic phases to measure (``PHASES``). ``repeat``: run the whole plan
    this many times, round-robin, and keep each row's fastest measurement.
    ``threads``: CPU threads per process (None: :func:`promptlearn.training.threads.default_threads`); 1 keeps
    OpenMP from spinning against other jobs on a shared machine.
    Fields with a ``help`` in their metadata are ``promptlearn bench``'s options (declared here only).
    """

    model: str = field(metadata={"help": "Hugging Face model id or local folder of a masked LM.", "short": ("-m",)})
    random_weights: bool = _option(False, "Read only the model's config; random weights (speed only).")
    modes: list[str] | None = field(
        default=None, metadata={"help": "Mode to measure (repeatable; default: every mode).", "flag": "--mode"}
    )
    references: list[str] = field(
        default_factory=lambda: list(REFERENCES),
        metadata={"help": "naive or plain (repeatable; default: both).", "flag": "--reference", "show_default": False},
    )
    mode_options: dict[str, dict] = field(default_factory=dict)
    batch_sizes: list[int] = field(
        default_factory=lambda: [32],
        metadata={"help": "Batch size (repeatable).", "flag": "--batch-size", "short": ("-b",)},
    )
    seq_len: int = _option(128, "Tokens per synthetic example (all padded to this).")
    steps: int = _option(10, "Timed training steps, and timed evaluation batches.")
    phases: list[str] = field(
        default_factory=lambda: list(PHASES),
        metadata={"help": "train or eval (repeatable; default: both).", "flag": "--phase", "show_default": False},
    )
    repeat: int = _option(1, "Run everything N times, round-robin; keep each row's fastest.")
    warmup_steps: int = _option(3, "Untimed steps (and batches) first.")
    precision: str = _option("auto", "auto (bf16 on GPU, fp32 on CPU), fp32, bf16 or fp16; naive too.")
    compile: str = _option("off", "torch.compile the promptlearn rows: off, on, or both (two rows).")
    pattern: str = "{text} It was [MASK] ."
    verbalizer: dict[str, list[str]] = field(default_factory=lambda: {"positive": ["great"], "negative": ["terrible"]})
    eval_data: str | None = _option(None, "Labelled .jsonl/.csv/.tsv file: time evaluating it, naive vs sorted.")
    eval_batch_size: int = _option(64, "Batch size of the --eval-data comparison.")
    eval_max_length: int = _option(128, "Token budget of the real-data rows (naive pads every batch to it).")
    plain_padding: str = _option(
        "batch",
        "How plain pads: 'batch' (each batch to its longest, as a competent loop) or 'fixed' (--eval-max-length).",
    )
    train_data: str | None = _option(None, "Dataset with a train split: time training on its few-shot sample.")
    shots: int = _option(16, "Examples per label of the --train-data sample (seeded by --seed).")
    packed: bool = _option(False, "Train the promptlearn rows with --packed (unpadded batches).")
    sparse_embedding_grads: bool = _option(False, "Train the promptlearn rows with --sparse-embedding-grads.")
    peak_tflops: float | None = _option(None, "Accelerator peak TFLOP/s for MFU (default: known GPUs' bf16 peak).")
    seed: int = _option(13, "Seed of the random weights and the data order.")
    threads: int | None = _option(
        None, "CPU threads per process (default: OMP_NUM_THREADS, else the cores it may use; 1 on a busy machine)."
    )
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
        if self.plain_padding not in PLAIN_PADDINGS:
            raise PromptlearnError(
                f"--plain-padding must be one of {', '.join(PLAIN_PADDINGS)}, got {self.plain_padding!r}"
            )
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
