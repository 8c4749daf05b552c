"""The plain reference: the short loop a competent PyTorch user writes by hand. It is the bar.

Label-word logits at [MASK] only (the encoder, the MLM head's transform on the B mask states,
then the W decoder rows of the label words), AdamW with its fused kernel where the device has one
(CPU and CUDA), gradients clipped at the same norm as promptlearn's default, inputs tokenized and
padded once to a fixed length and indexed by a shuffled permutation at each step, each batch then cut
to its own longest example (``trim``; what a competent loop's dynamic padding gives). No accelerate,
no hooks, no scheduler, no evaluation during training, no progress bar. The whole masked LM
trains, as in ``pet``: same backbone, inputs, precision and batch.

Unlike :mod:`promptlearn.bench.naive` it shares the head lookup with promptlearn
(:func:`promptlearn.readout.cloze.find_transform`): that is how to score label words only, not a framework.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from promptlearn.bench.naive import autocast, reference_step
from promptlearn.errors import PromptlearnError
from promptlearn.readout.cloze import find_transform

#: devices whose AdamW has a fused kernel
FUSED_ADAMW_DEVICES = ("cpu", "cuda")


class PlainCloze(nn.Module):
    """Label-word logits at [MASK], written out for one masked LM.

    ``label_token_ids``: one list of vocabulary ids per class; a class's score is the mean of its
    words' logits (as in PET and promptlearn).
    """

    def __init__(self, backbone: nn.Module, label_token_ids: list[list[int]]):
        super().__init__()
        self.backbone = backbone
        self.transform = find_transform(backbone)
        if self.transform is None:
            raise PromptlearnError(f"The plain reference knows no MLM head transform for {type(backbone).__name__}")
        self.words_per_label = [len(ids) for ids in label_token_ids]
        flat = [token for words in label_token_ids for token in words]
        self.register_buffer("label_token_ids", torch.tensor(flat, dtype=torch.long), persistent=False)
        self.segments = getattr(backbone.config, "type_vocab_size", 0) > 1

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Class logits (B, C) of a padded batch (see :meth:`promptlearn.prompt.pvp.PVP.collate`)."""
        extra = {"token_type_ids": batch["token_type_ids"]} if self.segments else {}
        hidden = self.backbone.base_model(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], **extra
        ).last_hidden_state  # (B, T, H)
        rows = torch.arange(hidden.size(0), device=hidden.device)
        at_mask = self.transform(hidden[rows, batch["mask_positions"]])  # (B, H)
        decoder = self.backbone.get_output_embeddings()
        ids = self.label_token_ids
        bias = decoder.bias[ids] if decoder.bias is not None else None
        words = nn.functional.linear(at_mask, decoder.weight[ids], bias)  # (B, W)
        per_label = words.split(self.words_per_label, dim=1)
        return torch.stack([w.mean(dim=1) for w in per_label], dim=1)  # (B, C)


def train(
    model: PlainCloze,
    inputs: dict[str, torch.Tensor],
    batch_size: int,
    steps: int,
    dtype: torch.dtype | None,
    on_step: Callable[[int], None],
    seed: int = 13,
    lr: float = 1e-4,
    weight_decay: float = 0.01,
    max_grad_norm: float = 1.0,
    trim: bool = True,
) -> None:
    """``steps`` AdamW steps of cross-entropy on the label-word scores.

    ``inputs``: every example already padded to one length, (N, T) / (N,) tensors as from
    :meth:`promptlearn.prompt.pvp.PVP.collate`; each epoch walks a fresh permutation of them.
    ``trim``: each batch is cut to its longest example (:func:`trimmed`); False keeps the fixed length.
    """
    device = next(model.parameters()).device
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        params, lr=lr, weight_decay=weight_decay, fused=device.type in FUSED_ADAMW_DEVICES or None
    )
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    inputs = {k: v.to(device) for k, v in inputs.items()}
    count = len(inputs["labels"])
    generator = torch.Generator().manual_seed(seed)
    model.train()
    step = 0
    while step < steps:
        order = torch.randperm(count, generator=generator).to(device)
        for start in range(0, count, batch_size):
            batch = {k: v[order[start : start + batch_size]] for k, v in inputs.items()}
            batch = trimmed(batch) if trim else batch
            reference_step(model, batch, optimizer, scaler, dtype, params, max_grad_norm, foreach=True)
            step += 1
            on_step(step)
            if step == steps:
                return


@torch.inference_mode()
def predict_proba(
    model: PlainCloze, inputs: dict[str, torch.Tensor], batch_size: int, dtype: torch.dtype | None, trim: bool = True
) -> np.ndarray:
    """Class probabilities (N, C) of padded ``inputs``, batch by batch in their order (``trim``: see :func:`train`)."""
    device = next(model.parameters()).device
    model.eval()
    parts = []
    for start in range(0, len(inputs["labels"]), batch_size):
        batch = {k: v[start : start + batch_size].to(device) for k, v in inputs.items()}
        batch = trimmed(batch) if trim else batch
        with autocast(device, dtype):
            logits = model(batch)
        parts.append(torch.softmax(logits.float(), dim=-1))
    return torch.cat(parts).cpu().numpy()


def trimmed(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``batch`` without the columns that are padding in every row: padded to its own longest example."""
    used = batch["attention_mask"].any(dim=0).nonzero()
    width = int(used.max()) + 1 if len(used) else 1
    return {k: v[:, :width] if v.dim() == 2 else v for k, v in batch.items()}
