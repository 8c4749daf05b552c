"""Trainer: one loop for every mode. It asks the mode for parameter groups and nothing else.

AdamW with linear warm-up and decay, gradient accumulation, evaluation on dev every N steps
keeping the best-on-dev trainable weights, optional early stopping. Device placement, mixed
precision (bf16 autocast on GPU, fp32 on CPU) and multi-process (``accelerate launch``) come
from ``accelerate``. Evaluation sorts inputs by length and pads each batch to its own longest.
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

    def fit(self, train: list[Encoded], dev: list[Encoded]) -> TrainResult:
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
            running.append(loss.item())
            if not accelerator.sync_gradients:
                continue
            scheduler.step()
            step += 1
            if progress is not None:
                progress.update(1)
                progress.set_postfix(loss=f"{np.mean(running[-20:]):.4f}")
            if dev and (step % config.eval_every == 0 or step == steps):
                metrics = self.evaluate(dev)
                model.train()
                result.history.append({"step": step, "loss": float(np.mean(running)), **metrics})
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
        probs = np.zeros((len(examples), model.num_labels), dtype=np.float32)
        device = self.accelerator.device
        size = self.config.eval_batch_size
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            batch = {k: v.to(device) for k, v in self.collate([examples[i] for i in chunk]).items()}
            with self.accelerator.autocast():
                logits = model(batch)
            probs[chunk] = torch.softmax(logits.float(), dim=-1).cpu().numpy()
        model.train(was_training)
        return probs

    def evaluate(self, examples: list[Encoded]) -> dict:
        """Accuracy and macro-F1 on labelled encoded examples."""
        probs = self.predict_proba(examples)
        gold = [e.label for e in examples]
        return classification_metrics(gold, probs.argmax(axis=1), self.model.num_labels)

    def _trainable_state(self) -> dict[str, torch.Tensor]:
        return {n: p.detach().to("cpu", copy=True) for n, p in self.model.named_parameters() if p.requires_grad}


def _forever(loader):
    while True:
        yield from loader
