"""Trainer: one loop for every mode. It asks the mode for parameter groups and nothing else.

AdamW with linear warm-up and decay, gradient accumulation, evaluation on dev every N steps
keeping the best-on-dev trainable weights, optional early stopping. An optimizer step reads one
window of ``grad_accum`` batches, never across an epoch's end (an epoch's last window holds what is
left), each example weighted alike: the step a single batch of the whole window would take. Device placement, mixed
precision (bf16 autocast on GPU, fp32 on CPU) and multi-process (``accelerate launch``) come
from ``accelerate``; each run gets an accelerator of its own, and counts its steps on its own
share of the data. Training batches group examples of similar lengths (``group_by_length``,
:mod:`promptlearn.training.batching`) and evaluation sorts inputs by length; each batch is padded to its
own longest.

A non-finite loss stops training with an error (checked every step on CPU; on a GPU at each
evaluation and at the end, so the host does not wait for the device every step): the weights
kept are never NaN. While it trains, :class:`~promptlearn.training.progress.Progress` shows how far it is.

Lean by construction: frozen weights get no gradients and no optimizer state (the optimizer sees
only the mode's groups); under mixed precision the frozen ``nn.Linear`` weights are stored in the
autocast dtype (see :func:`store_frozen_linears_in`); ``settings.compile`` compiles the forward pass.

Fast on CPU too: AdamW's fused kernel and foreach gradient clipping on CPU and CUDA (the default
per-tensor loops cost a third of a bert-tiny ``pet`` step on CPU); the best-on-dev weights are
copied into buffers allocated once, beside the weights, not into fresh CPU tensors at every
improvement (profile and figures: docs/benchmarks.md).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from itertools import islice
from typing import Protocol

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState, GradientState
from accelerate.utils import set_seed
from torch.utils.data import DataLoader
from transformers import get_linear_schedule_with_warmup

from promptlearn.errors import PromptlearnError
from promptlearn.model.prompt_model import PromptModel
from promptlearn.prompt.pvp import Encoded
from promptlearn.training.batching import LengthGroupedBatches
from promptlearn.training.objective import Objective
from promptlearn.training.progress import Progress
from promptlearn.training.sparse_grads import SparseToDense

logger = logging.getLogger(__name__)


#: called after every evaluation with its history entry (step, loss, dev metrics) and the learning rate of each
#: parameter group by name, as the scheduler has set it for the next step (tracking reads it; training does not)
OnEvaluate = Callable[[dict, dict[str, float]], None]


class TrainingSettings(Protocol):
    """What the trainer reads of a run's configuration (a :class:`~promptlearn.run.config.RunConfig` has it all).

    A protocol, so that training depends on these names only, not on the run stage that declares them."""

    seed: int
    batch_size: int
    eval_batch_size: int
    learning_rate: float | None
    weight_decay: float
    warmup_ratio: float
    max_steps: int | None
    epochs: float | None
    grad_accum: int
    group_by_length: bool
    eval_every: int
    patience: int | None
    max_grad_norm: float
    precision: str
    compile: bool


def mixed_precision(precision: str) -> str:
    """accelerate's ``mixed_precision`` for a config value: 'auto' is bf16 on a bf16 GPU, fp32 elsewhere."""
    if precision == "auto":
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    return {"fp32": "no"}.get(precision, precision)


def accelerator_device() -> str:
    """The device type accelerate would pick (for messages written before it could say)."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def autocast_dtype(mixed: str) -> torch.dtype | None:
    """The dtype autocast computes matmuls in for accelerate's ``mixed_precision`` value (None: fp32)."""
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(mixed)


class LowPrecisionLinear(torch.nn.Linear):
    """A frozen ``nn.Linear`` stored in a low-precision dtype that also runs outside autocast.

    Under autocast it is a plain linear layer. Outside, it computes in its weights' dtype and
    returns the input's dtype, so the layers around it (norms, embeddings in fp32) never see a
    mixed-dtype matmul; a trainable fp32 bias (BitFit) is cast along and still gets its gradient.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = self.weight.dtype
        if x.dtype == low or torch.is_autocast_enabled(x.device.type):
            return super().forward(x)
        bias = self.bias.to(low) if self.bias is not None else None
        return torch.nn.functional.linear(x.to(low), self.weight, bias).to(x.dtype)


def store_frozen_linears_in(model: torch.nn.Module, dtype: torch.dtype) -> int:
    """Store every frozen ``nn.Linear`` weight and bias in ``dtype``; returns how many tensors changed.

    Under autocast a linear layer computes in the autocast dtype whatever its weights are stored
    in, so for frozen weights this changes no output: it halves their memory and saves a cast per
    call. The layers become :class:`LowPrecisionLinear`, so the model also runs outside autocast.
    Parameters shared with another kind of module (a decoder tied to the word embeddings) keep
    their dtype, since embeddings and norms are not autocast and would change their outputs;
    subclasses of ``nn.Linear`` (with forwards of their own) are left alone.
    """
    others = {id(p) for m in model.modules() if not isinstance(m, torch.nn.Linear) for p in m.parameters(recurse=False)}
    changed = 0
    for module in model.modules():
        if type(module) not in (torch.nn.Linear, LowPrecisionLinear):
            continue
        for param in module.parameters(recurse=False):
            frozen = not param.requires_grad and param.is_floating_point() and id(param) not in others
            if frozen and param.dtype != dtype:
                param.data = param.data.to(dtype)
                module.__class__ = LowPrecisionLinear
                changed += 1
    return changed


def restore_trained(model: torch.nn.Module, state: dict[str, torch.Tensor], origin: str) -> None:
    """Load ``state`` into ``model``: every trainable parameter must be in it (frozen ones may be absent).

    ``load_state_dict(strict=False)`` alone would leave a trained tensor that ``state`` lacks at its
    initial value, silently; here that is an error naming the missing tensors and ``origin``.
    """
    trained = [name for name, p in model.named_parameters() if p.requires_grad]
    missing = [name for name in trained if name not in state]
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise PromptlearnError(
            f"{origin} lacks {len(missing)} of the {len(trained)} tensors this mode trains ({shown}); "
            "loading it would leave them untrained. Use a complete file (train the run again if it was cut short)."
        )
    unexpected = model.load_state_dict(state, strict=False).unexpected_keys
    if unexpected:
        raise PromptlearnError(f"{origin} holds tensors the model does not have: {', '.join(unexpected[:3])}")


def diverged(loss: float, step: str, advice: str) -> PromptlearnError:
    """The error for a non-finite training loss; ``step`` says when, ``advice`` what to lower."""
    return PromptlearnError(f"Training diverged: the loss became {loss} {step}. {advice}. Nothing was written.")


#: devices with a fused AdamW kernel and foreach gradient clipping
FAST_KERNEL_DEVICES = ("cpu", "cuda")


class BestState:
    """The trainable tensors at the best evaluation so far, in buffers allocated once beside the weights.

    Copying into the same buffers at every improvement allocates nothing after the first save and,
    on a GPU, never makes the host wait for a device-to-host copy.
    """

    def __init__(self):
        self.tensors: dict[str, torch.Tensor] = {}

    @property
    def saved(self) -> bool:
        return bool(self.tensors)

    @torch.no_grad()
    def save(self, model: torch.nn.Module) -> None:
        trained = {name: p for name, p in model.named_parameters() if p.requires_grad}
        if not self.tensors:
            self.tensors = {name: torch.empty_like(p) for name, p in trained.items()}
        for name, param in trained.items():
            self.tensors[name].copy_(param)


@dataclass
class TrainResult:
    """What training did: the step whose weights were kept, its dev metrics, and the evaluations."""

    steps: int
    best_step: int
    best_dev: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)


class Trainer:
    """Trains ``model`` on encoded examples; ``collate`` turns a list of them into a batch.

    ``objective`` gives the loss and the probabilities (default: cross-entropy on hard labels).
    ``on_evaluate`` (None: nothing) sees every evaluation as it happens (:data:`OnEvaluate`).
    """

    def __init__(
        self,
        model: PromptModel,
        collate: Callable[[list[Encoded]], dict],
        config: TrainingSettings,
        objective: Objective | None = None,
    ):
        self.model = model
        self.collate = collate
        self.config = config
        self.objective = objective if objective is not None else Objective()
        self.on_evaluate: OnEvaluate | None = None
        self.mixed_precision = mixed_precision(config.precision)
        self.accelerator = self._new_accelerator()
        self.model.to(self.accelerator.device)
        low = autocast_dtype(self.mixed_precision)
        if low is not None:
            store_frozen_linears_in(self.model, low)
        if config.compile:
            # In place, so training, evaluation and the saved state dict all see the same module.
            self.model.compile()

    def _new_accelerator(self) -> Accelerator:
        """An accelerator with this run's settings.

        accelerate keeps them in process-wide singletons and refuses a second precision; clearing
        those (not the process group, which is per process) lets runs with other settings follow
        one another in one process. Evaluation autocasts with :meth:`autocast`, so an older
        Trainer whose shared state was replaced still computes in its own precision.
        """
        AcceleratorState._reset_state()
        GradientState._reset_state()
        try:
            # accumulation is the loop's own (see fit): accelerate's would divide every loss by grad_accum
            accelerator = Accelerator(mixed_precision=self.mixed_precision, step_scheduler_with_optimizer=False)
        except ValueError as err:  # e.g. bf16 on a GPU without bf16
            raise self._unsupported_precision(accelerator_device(), f"({err})") from err
        if self.mixed_precision != "no" and not accelerator.native_amp:
            # accelerate would train in fp32 while evaluation autocasts: refuse rather than report a mix
            why = f": it would train in fp32 and evaluate in {self.mixed_precision}"
            raise self._unsupported_precision(accelerator.device.type, why)
        return accelerator

    def _unsupported_precision(self, device: str, why: str) -> PromptlearnError:
        return PromptlearnError(
            f"--precision {self.config.precision} cannot train on this machine's {device}{why}. "
            "Use --precision fp32, or auto (bf16 on a GPU that has it, fp32 elsewhere)."
        )

    def autocast(self):
        """The autocast context of this run's precision (a no-op in fp32)."""
        low = autocast_dtype(self.mixed_precision)
        return torch.autocast(self.accelerator.device.type, dtype=low, enabled=low is not None)

    def divergence_advice(self, groups: list[dict]) -> str:
        by_group = {g["name"].removesuffix(".no_decay"): g["lr"] for g in groups}
        rates = ", ".join(f"{name} {lr:g}" for name, lr in by_group.items())
        advice = f"Lower --lr (learning rates: {rates}), e.g. tenfold"
        if self.mixed_precision != "no":
            advice += f", or train in full precision with --precision fp32 (this run used {self.mixed_precision})"
        return advice

    def fit(
        self, train: list[Encoded], dev: list[Encoded], on_step: Callable[[int], None] | None = None
    ) -> TrainResult:
        """Train on ``train``, evaluating on ``dev``; ``on_step(step)`` runs after each optimizer step.

        Raises :class:`PromptlearnError` at a non-finite loss (see the module docstring).
        A mode that trains in stages of its own (:meth:`~promptlearn.modes.base.Mode.fit`) does so instead.
        """
        own = self.model.mode.fit(self.model, self, train, dev)
        if own is not None:
            return TrainResult(**own)
        config = self.config
        accelerator = self.accelerator = self._new_accelerator()
        set_seed(config.seed)
        loader = self.loader(train, torch.Generator().manual_seed(config.seed))
        groups = self.model.mode.param_groups(self.model, config.learning_rate, config.weight_decay)
        fast = accelerator.device.type in FAST_KERNEL_DEVICES or None  # None: torch's default elsewhere
        optimizer = torch.optim.AdamW(groups, fused=fast)
        trained = [p for g in groups for p in g["params"]]
        model, prepared_optimizer, loader = accelerator.prepare(self.model, optimizer, loader)
        # After prepare: under `accelerate launch` the loader holds this process's share of the batches.
        steps = config.max_steps or math.ceil(config.epochs * math.ceil(len(loader) / config.grad_accum))
        scheduler = get_linear_schedule_with_warmup(optimizer, int(config.warmup_ratio * steps), steps)
        every_step = checks_every_step(accelerator.device)
        advice = self.divergence_advice(groups)

        result = TrainResult(steps=steps, best_step=0)
        best_state, stale, sparse = BestState(), 0, SparseToDense()
        progress = Progress(steps, f"train {self.model.mode.name}", show=accelerator.is_main_process)
        step, running = 0, []
        windows = _windows(loader, config.grad_accum)
        model.train()
        while step < steps:
            window = next(windows)
            examples = sum(len(batch["labels"]) for batch in window)  # a multiple-choice row is a choice
            window_loss = 0.0
            for index, batch in enumerate(window):
                # gradients are all-reduced (multi-process) once per window, at its last micro-batch
                syncing = nullcontext() if index == len(window) - 1 else accelerator.no_sync(model)
                with syncing:
                    loss = self.objective.training_loss(model, batch)
                    if every_step and not torch.isfinite(loss):
                        raise diverged(loss.item(), f"at step {step + 1}", advice)
                    # each example weighs the same, as in one batch of the whole window
                    weighted = loss * (len(batch["labels"]) / examples)
                    accelerator.backward(weighted)
                window_loss = window_loss + weighted.detach()
            sparse.densify(trained)  # sparse embedding gradients (if any) into their kept dense buffers
            # accelerate's clip_grad_norm_ without its per-tensor loop (it passes no foreach)
            accelerator.unscale_gradients()
            torch.nn.utils.clip_grad_norm_(trained, config.max_grad_norm, foreach=fast)
            prepared_optimizer.step()
            prepared_optimizer.zero_grad(set_to_none=True)
            # Kept on the device: reading a loss every step would make the host wait for the GPU.
            running.append(window_loss)
            scheduler.step()
            step += 1
            if on_step is not None:
                on_step(step)
            progress.step(step, _mean(running[-20:]) if progress.bar is not None and step % 10 == 0 else None)
            evaluate = dev and (step % config.eval_every == 0 or step == steps)
            if not every_step and (evaluate or step == steps):
                _check_finite(running, step, advice)
            if evaluate:
                metrics = self.evaluate(dev)
                model.train()
                result.history.append({"step": step, "loss": _mean(running), **metrics})
                running = []
                key = self.objective.shape.selection_metric
                if not best_state.saved or metrics[key] > result.best_dev[key]:
                    best_state.save(self.model)
                    stale = 0
                    result.best_step, result.best_dev = step, metrics
                else:
                    stale += 1
                progress.evaluated(step, result.history[-1]["loss"], metrics[key], result.best_dev[key], key)
                if self.on_evaluate is not None:
                    rates = {g["name"].removesuffix(".no_decay"): g["lr"] for g in optimizer.param_groups}
                    self.on_evaluate(result.history[-1], rates)
                if config.patience is not None and stale >= config.patience:
                    logger.info("Early stop at step %d: no dev improvement in %d evaluations", step, stale)
                    break
        progress.close()
        if best_state.saved:
            restore_trained(self.model, best_state.tensors, f"The best-on-dev weights of step {result.best_step}")
        else:
            result.best_step = step
        self.model.eval()
        return result

    def loader(self, train: list[Encoded], generator: torch.Generator) -> DataLoader:
        """The training batches of one epoch, shuffled by ``generator`` (a multi-task trainer mixes tasks here)."""
        config = self.config
        if config.group_by_length:
            batches = LengthGroupedBatches([len(e.input_ids) for e in train], config.batch_size, generator)
            # the generator also seeds each epoch's iterator, which would otherwise draw from the global RNG
            return DataLoader(train, batch_sampler=batches, collate_fn=self.collate, generator=generator)
        return DataLoader(
            train, batch_size=config.batch_size, shuffle=True, collate_fn=self.collate, generator=generator
        )

    def predict_proba(self, examples: list[Encoded]) -> np.ndarray:
        """Class probabilities (N, C), in the order of ``examples``."""
        return self.probabilities_of(self.model, self.collate, examples)

    @torch.inference_mode()
    def probabilities_of(
        self, model: PromptModel, collate: Callable[[list[Encoded]], dict], examples: list[Encoded]
    ) -> np.ndarray:
        """Class probabilities (N, C) of ``model`` (this trainer's, or one task's model in a multi-task one)."""
        was_training = model.training
        model.eval()
        order = sorted(range(len(examples)), key=lambda i: len(examples[i].input_ids))
        device = self.accelerator.device
        size = self.config.eval_batch_size
        parts = []
        for start in range(0, len(order), size):
            chunk = [examples[i] for i in order[start : start + size]]
            # a plain copy: non_blocking from pageable (unpinned) memory would wait all the same
            batch = {k: v.to(device) for k, v in collate(chunk).items()}
            with self.autocast():
                logits = model(batch)
            parts.append(self.objective.probabilities(logits))  # stays on the device: one copy at the end
        model.train(was_training)
        probs = np.zeros((len(examples), model.num_labels), dtype=np.float32)
        if parts:
            probs[order] = torch.cat(parts).cpu().numpy()
        return probs

    def evaluate(self, examples: list[Encoded]) -> dict:
        """The task shape's metrics (single-label: accuracy and macro-F1) on labelled encoded examples."""
        probs = self.predict_proba(examples)
        gold = [e.label for e in examples]
        return self.objective.shape.metrics(gold, probs, self.model.num_labels)


def _mean(losses: list[torch.Tensor]) -> float:
    return float(torch.stack(losses).float().mean()) if losses else float("nan")


def checks_every_step(device: torch.device) -> bool:
    """Whether the loss is checked for NaN every step: reading it costs nothing on CPU; on a GPU it syncs."""
    return device.type == "cpu"


def _check_finite(losses: list[torch.Tensor], step: int, advice: str) -> None:
    """Raise :func:`diverged` at the first NaN or infinite loss among ``losses`` (one sync for all).

    ``losses``: the loss of every optimizer step since the last check, the last one of ``step``.
    """
    stacked = torch.stack(losses)
    bad = (~torch.isfinite(stacked)).nonzero()
    if len(bad):
        first = int(bad[0])
        raise diverged(stacked[first].item(), f"at step {step - (len(losses) - 1 - first)}", advice)


def _windows(loader, size: int) -> Iterator[list[dict]]:
    """Endless accumulation windows: ``size`` consecutive batches, each epoch's last window what is left.

    A window never spans two epochs, so one optimizer step never mixes the end of a shuffle with
    the start of the next one.
    """
    while True:
        epoch = iter(loader)
        while window := list(islice(epoch, size)):
            yield window
