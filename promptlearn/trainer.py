"""Trainer: one loop for every mode. It asks the mode for parameter groups and nothing else.

AdamW with linear warm-up and decay, gradient accumulation, evaluation on dev every N steps
keeping the best-on-dev trainable weights, optional early stopping. Device placement, mixed
precision (bf16 autocast on GPU, fp32 on CPU) and multi-process (``accelerate launch``) come
from ``accelerate``. Evaluation sorts inputs by length and pads each batch to its own longest.

Lean by construction: frozen weights get no gradients and no optimizer state (the optimizer sees
only the mode's groups); under mixed precision the frozen ``nn.Linear`` weights are stored in the
autocast dtype (see :func:`store_frozen_linears_in`); ``RunConfig.compile`` compiles the forward pass.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from sklearn.metrics import accuracy_score, f1_score
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from promptlearn.config import RunConfig
from promptlearn.model import PromptModel
from promptlearn.pvp import Encoded

logger = logging.getLogger(__name__)


def classification_metrics(gold: list[int] | np.ndarray, predicted: list[int] | np.ndarray, num_labels: int) -> dict:
    """Accuracy and macro-F1 (over all ``num_labels`` classes, absent ones included)."""
    labels = list(range(num_labels))
    return {
        "accuracy": float(accuracy_score(gold, predicted)),
        "macro_f1": float(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)),
    }


def mixed_precision(precision: str) -> str:
    """accelerate's ``mixed_precision`` for a config value: 'auto' is bf16 on a bf16 GPU, fp32 elsewhere."""
    if precision == "auto":
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    return {"fp32": "no"}.get(precision, precision)


def autocast_dtype(mixed: str) -> torch.dtype | None:
    """The dtype autocast computes matmuls in for accelerate's ``mixed_precision`` value (None: fp32)."""
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(mixed)


def store_frozen_linears_in(model: torch.nn.Module, dtype: torch.dtype) -> int:
    """Store every frozen ``nn.Linear`` weight and bias in ``dtype``; returns how many tensors changed.

    Under autocast a linear layer computes in the autocast dtype whatever its weights are stored
    in, so for frozen weights this changes no output: it halves their memory and saves a cast per
    call. Parameters shared with another kind of module (a decoder tied to the word embeddings)
    keep their dtype, since embeddings and norms are not autocast and would change their outputs.
    """
    others = {id(p) for m in model.modules() if not isinstance(m, torch.nn.Linear) for p in m.parameters(recurse=False)}
    changed = 0
    for module in model.modules():
        if not isinstance(module, torch.nn.Linear):
            continue
        for param in module.parameters(recurse=False):
            frozen = not param.requires_grad and param.is_floating_point() and id(param) not in others
            if frozen and param.dtype != dtype:
                param.data = param.data.to(dtype)
                changed += 1
    return changed


@dataclass
class TrainResult:
    """What training did: the step whose weights were kept, its dev metrics, and the evaluations."""

    steps: int
    best_step: int
    best_dev: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)


class Trainer:
    """Trains ``model`` on encoded examples; ``collate`` turns a list of them into a batch."""

    def __init__(self, model: PromptModel, collate: Callable[[list[Encoded]], dict], config: RunConfig):
        self.model = model
        self.collate = collate
        self.config = config
        self.accelerator = Accelerator(
            mixed_precision=mixed_precision(config.precision),
            gradient_accumulation_steps=config.grad_accum,
            step_scheduler_with_optimizer=False,
        )
        self.model.to(self.accelerator.device)
        low = autocast_dtype(self.accelerator.mixed_precision)
        if low is not None:
            store_frozen_linears_in(self.model, low)
        if config.compile:
            # In place, so training, evaluation and the saved state dict all see the same module.
            self.model.compile()

    def fit(
        self, train: list[Encoded], dev: list[Encoded], on_step: Callable[[int], None] | None = None
    ) -> TrainResult:
        """Train on ``train``, evaluating on ``dev``; ``on_step(step)`` runs after each optimizer step."""
        config, accelerator = self.config, self.accelerator
        set_seed(config.seed)
        loader = DataLoader(
            train,
            batch_size=config.batch_size,
            shuffle=True,
            collate_fn=self.collate,
            generator=torch.Generator().manual_seed(config.seed),
        )
        steps = config.max_steps or math.ceil(config.epochs * len(loader) / config.grad_accum)
        groups = self.model.mode.param_groups(self.model, config.learning_rate)
        fused = accelerator.device.type == "cuda"
        optimizer = torch.optim.AdamW(groups, weight_decay=config.weight_decay, fused=fused)
        scheduler = get_linear_schedule_with_warmup(optimizer, int(config.warmup_ratio * steps), steps)
        model, optimizer, loader = accelerator.prepare(self.model, optimizer, loader)

        result = TrainResult(steps=steps, best_step=0)
        best_state, stale = None, 0
        progress = (
            tqdm(total=steps, desc=f"train {self.model.mode.name}", disable=None, leave=False)
            if accelerator.is_main_process
            else None
        )
        step, running = 0, []
        batches = _forever(loader)
        model.train()
        while step < steps:
            with accelerator.accumulate(model):
                batch = next(batches)
                logits = model(batch)
                loss = torch.nn.functional.cross_entropy(logits.float(), batch["labels"])
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_([p for g in groups for p in g["params"]], config.max_grad_norm)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            # Kept on the device: reading a loss every step would make the host wait for the GPU.
            running.append(loss.detach())
            if not accelerator.sync_gradients:
                continue
            scheduler.step()
            step += 1
            if on_step is not None:
                on_step(step)
            if progress is not None:
                progress.update(1)
                if not progress.disable and step % 10 == 0:
                    progress.set_postfix(loss=f"{_mean(running[-20:]):.4f}")
            if dev and (step % config.eval_every == 0 or step == steps):
                metrics = self.evaluate(dev)
                model.train()
                result.history.append({"step": step, "loss": _mean(running), **metrics})
                running = []
                if progress is not None:
                    progress.set_postfix(loss=f"{result.history[-1]['loss']:.4f}", dev_acc=f"{metrics['accuracy']:.3f}")
                if best_state is None or metrics["accuracy"] > result.best_dev["accuracy"]:
                    best_state, stale = self._trainable_state(), 0
                    result.best_step, result.best_dev = step, metrics
                else:
                    stale += 1
                    if config.patience is not None and stale >= config.patience:
                        logger.info("Early stop at step %d: no dev improvement in %d evaluations", step, stale)
                        break
        if progress is not None:
            progress.close()
        if best_state is not None:
            self.model.load_state_dict(best_state, strict=False)
        else:
            result.best_step = step
        self.model.eval()
        return result

    @torch.inference_mode()
    def predict_proba(self, examples: list[Encoded]) -> np.ndarray:
        """Class probabilities (N, C), in the order of ``examples``."""
        model = self.model
        was_training = model.training
        model.eval()
        order = sorted(range(len(examples)), key=lambda i: len(examples[i].input_ids))
        device = self.accelerator.device
        size = self.config.eval_batch_size
        parts = []
        for start in range(0, len(order), size):
            chunk = [examples[i] for i in order[start : start + size]]
            batch = {k: v.to(device, non_blocking=True) for k, v in self.collate(chunk).items()}
            with self.accelerator.autocast():
                logits = model(batch)
            parts.append(torch.softmax(logits.float(), dim=-1))  # stays on the device: one copy at the end
        model.train(was_training)
        probs = np.zeros((len(examples), model.num_labels), dtype=np.float32)
        if parts:
            probs[order] = torch.cat(parts).cpu().numpy()
        return probs

    def evaluate(self, examples: list[Encoded]) -> dict:
        """Accuracy and macro-F1 on labelled encoded examples."""
        probs = self.predict_proba(examples)
        gold = [e.label for e in examples]
        return classification_metrics(gold, probs.argmax(axis=1), self.model.num_labels)

    def _trainable_state(self) -> dict[str, torch.Tensor]:
        return {n: p.detach().to("cpu", copy=True) for n, p in self.model.named_parameters() if p.requires_grad}


def _mean(losses: list[torch.Tensor]) -> float:
    return float(torch.stack(losses).float().mean()) if losses else float("nan")


def _forever(loader):
    while True:
        yield from loader
