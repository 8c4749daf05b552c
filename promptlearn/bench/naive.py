"""The naive baseline, written the way PET and OpenPrompt score a cloze.

The whole ``*ForMaskedLM`` runs, so the MLM head produces logits over the whole vocabulary at
every position (B, T, V); every batch is padded to a fixed length; the label words are gathered
at [MASK] afterwards. Eager PyTorch, plain AdamW, the whole model trains. It is deliberately
independent of :mod:`promptlearn.model.prompt_model` and :mod:`promptlearn.readout.cloze`, so that the two agreeing
(tests/bench/test_bench.py) checks both.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from promptlearn.prompt.pvp import PVP, Encoded


class NaiveCloze(nn.Module):
    """A masked LM read out at [MASK] through its full vocabulary.

    ``label_token_ids``: one list of vocabulary ids per class; a class's score is the mean of its
    words' logits (as in PET).
    """

    def __init__(self, backbone: nn.Module, label_token_ids: list[list[int]]):
        super().__init__()
        self.backbone = backbone
        self.label_token_ids = [list(ids) for ids in label_token_ids]

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Class logits (B, C) for a batch with ``input_ids``/``attention_mask`` (B, T), ``mask_positions`` (B,)."""
        logits = self.backbone(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits  # (B, T, V)
        rows = torch.arange(logits.size(0), device=logits.device)
        at_mask = logits[rows, batch["mask_positions"]]  # (B, V)
        return torch.stack([at_mask[:, ids].mean(dim=-1) for ids in self.label_token_ids], dim=1)  # (B, C)


def fixed_collate(pvp: PVP, length: int) -> Callable[[list[Encoded]], dict[str, torch.Tensor]]:
    """``pvp.collate`` padded to ``length`` tokens whatever the batch holds (the naive pipelines' habit)."""

    def collate(examples: list[Encoded]) -> dict[str, torch.Tensor]:
        batch = pvp.collate(examples)
        missing = length - batch["input_ids"].size(1)
        pad = pvp.tokenizer.pad_token_id if pvp.tokenizer.pad_token_id is not None else 0
        batch["input_ids"] = nn.functional.pad(batch["input_ids"], (0, missing), value=pad)
        for key in ("attention_mask", "token_type_ids"):
            batch[key] = nn.functional.pad(batch[key], (0, missing), value=0)
        return batch

    return collate


def autocast(device: torch.device, dtype: torch.dtype | None) -> AbstractContextManager:
    """Autocast to ``dtype`` on ``device`` (no-op for None: fp32)."""
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


def reference_step(
    model: nn.Module,
    batch: dict[str, torch.Tensor],
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    dtype: torch.dtype | None,
    params: list[nn.Parameter],
    max_grad_norm: float,
    foreach: bool | None = None,
) -> None:
    """One optimizer step of a reference loop: cross-entropy on the label-word scores, (scaled) backward,
    gradient clipping at ``max_grad_norm`` over ``params``, AdamW. Shared by the naive and plain loops."""
    with autocast(next(model.parameters()).device, dtype):
        logits = model(batch)
    loss = nn.functional.cross_entropy(logits.float(), batch["labels"])
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    nn.utils.clip_grad_norm_(params, max_grad_norm, foreach=foreach)
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)


def train(
    model: NaiveCloze,
    examples: list[Encoded],
    collate: Callable[[list[Encoded]], dict[str, torch.Tensor]],
    batch_size: int,
    steps: int,
    dtype: torch.dtype | None,
    on_step: Callable[[int], None],
    seed: int = 13,
) -> None:
    """``steps`` AdamW steps of cross-entropy on the label-word scores, clipping gradients at norm 1."""
    device = next(model.parameters()).device
    loader = DataLoader(
        examples, batch_size=batch_size, shuffle=True, collate_fn=collate, generator=torch.Generator().manual_seed(seed)
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.01)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    model.train()
    step = 0
    while step < steps:
        for batch in loader:
            batch = {k: v.to(device) for k, v in batch.items()}
            reference_step(model, batch, optimizer, scaler, dtype, list(model.parameters()), 1.0)
            step += 1
            on_step(step)
            if step == steps:
                return


@torch.inference_mode()
def predict_proba(
    model: NaiveCloze,
    examples: list[Encoded],
    collate: Callable[[list[Encoded]], dict[str, torch.Tensor]],
    batch_size: int,
    dtype: torch.dtype | None,
) -> np.ndarray:
    """Class probabilities (N, C), batch by batch in the given order."""
    device = next(model.parameters()).device
    model.eval()
    parts = []
    for start in range(0, len(examples), batch_size):
        batch = {k: v.to(device) for k, v in collate(examples[start : start + batch_size]).items()}
        with autocast(device, dtype):
            logits = model(batch)
        parts.append(torch.softmax(logits.float(), dim=-1).cpu().numpy())
    return np.concatenate(parts)
