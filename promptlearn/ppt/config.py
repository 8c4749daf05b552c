"""PretrainConfig: one prompt-pretraining run, declared once for :func:`promptlearn.ppt.pretrain.pretrain`
and for ``promptlearn pretrain-prompt``, whose options are the fields with a ``help``.

Free of torch, so the command builds its options (and checks them) before the model stack loads.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from promptlearn.errors import PromptlearnError
from promptlearn.ppt.formats import get_format
from promptlearn.run.config import RunConfig

#: the mode whose soft prompt is pretrained
PROMPT_MODE = "soft_prompt"


def _option(default=dataclasses.MISSING, help: str = "", **metadata):
    """A field that is also a ``pretrain-prompt`` option (its flag: :func:`promptlearn.run.config.flag` of its name)."""
    return field(default=default, metadata={"help": help, **metadata})


@dataclass
class PretrainConfig:
    """One prompt-pretraining run; saved in ``pretrain.json`` and checked on resume."""

    model: str = _option(help="Hugging Face model id or local folder of a masked LM.", short=("-m",))
    corpus: str = _option(help="Unlabeled text, one document per line.")
    format: str = _option(help="sentence-pair, multiple-choice or single-sentence.", short=("-f",))
    prompt_length: int = _option(16, "Number of soft tokens.")
    init: str = _option("vocab", "Starting prompt: random, vocab or text:WORDS.")
    steps: int = _option(1000, "Optimizer steps.")
    batch_size: int = _option(16, "Examples per step.")
    learning_rate: float | None = _option(None, "Learning rate (default: the soft-prompt mode's).")
    warmup_ratio: float = _option(0.06, "Fraction of steps with linear warm-up.")
    max_grad_norm: float = 1.0
    max_length: int = _option(128, "Token budget per example; only the sentences are truncated.")
    seed: int = _option(13, "Seed for example building, shuffling and initialisation.")
    eval_every: int = _option(100, "Evaluate on the held-out examples every N steps.")
    checkpoint_every: int = _option(50, "Write a resumable checkpoint every N steps.")
    heldout_every: int = _option(20, "Hold out every N-th document of the corpus.")
    heldout_size: int = _option(500, "Held-out examples to evaluate on (a uniform sample).")
    eval_batch_size: int = 64
    precision: str = _option("auto", "auto (bf16 on GPU, fp32 on CPU), fp32, bf16 or fp16.")

    def __post_init__(self):
        get_format(self.format)
        for name in ("prompt_length", "steps", "batch_size", "max_length", "eval_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise PromptlearnError(f"--{name.replace('_', '-')} must be positive, got {getattr(self, name)}")
        if self.heldout_every < 2 or self.heldout_size < 1:
            raise PromptlearnError("--heldout-every must be at least 2 and --heldout-size at least 1")

    def run_config(self) -> RunConfig:
        """The :class:`RunConfig` that builds the model and PVP for this format."""
        fmt = get_format(self.format)
        return RunConfig(
            model=self.model,
            data=self.corpus,
            pattern=fmt.pattern,
            verbalizer=fmt.verbalizer,
            mode=PROMPT_MODE,
            mode_options={"prompt_length": self.prompt_length, "init": self.init},
            seed=self.seed,
            max_length=self.max_length,
            batch_size=self.batch_size,
            eval_batch_size=self.eval_batch_size,
            learning_rate=self.learning_rate,
            warmup_ratio=self.warmup_ratio,
            max_steps=self.steps,
            max_grad_norm=self.max_grad_norm,
            precision=self.precision,
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
