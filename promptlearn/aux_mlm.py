"""Masked-LM batches of unlabelled text, for PET's auxiliary language-modelling loss.

BERT's recipe: 15 % of the non-special tokens of each text are chosen; of those, 80 % become the
mask token, 10 % a random token and 10 % stay; the loss reads the chosen positions only (label
-100 elsewhere). Batches are drawn in a seeded, endless shuffle, so a run is reproducible.
"""

from __future__ import annotations

import torch

from promptlearn.errors import PromptlearnError

MASK_RATE = 0.15


class MlmBatches:
    """``texts`` (pairs allowed: ``(text_a, text_b)``) tokenized once; :meth:`next` gives one batch.

    Each batch: ``input_ids``, ``attention_mask`` (B, T) and ``labels`` (B, T), -100 where no loss is read.
    """

    def __init__(self, texts: list, tokenizer, batch_size: int, max_length: int, seed: int):
        if not texts:
            raise PromptlearnError("--aux-mlm-weight needs unlabelled text, but none is left to use")
        firsts = [t[0] if isinstance(t, tuple) else t for t in texts]
        seconds = [t[1] if isinstance(t, tuple) else None for t in texts]
        pairs = any(s is not None for s in seconds)
        encoded = tokenizer(
            firsts, [s or "" for s in seconds] if pairs else None, truncation=True, max_length=max_length
        )
        self.special = set(tokenizer.all_special_ids)
        self.ids = [ids for ids in encoded["input_ids"] if any(i not in self.special for i in ids)]
        if not self.ids:
            raise PromptlearnError("--aux-mlm-weight needs unlabelled text, but every text is empty")
        self.mask_id = tokenizer.mask_token_id
        self.vocab_size = len(tokenizer)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.batch_size = batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.order: list[int] = []

    def next(self) -> dict[str, torch.Tensor]:
        """The next batch of masked texts (CPU tensors)."""
        if len(self.order) < self.batch_size:
            self.order += torch.randperm(len(self.ids), generator=self.generator).tolist()
        rows = [self.ids[i] for i in self.order[: self.batch_size]]
        del self.order[: self.batch_size]
        width = max(len(r) for r in rows)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        for row, ids in enumerate(rows):
            input_ids[row, : len(ids)] = torch.tensor(ids)
        attention_mask = (torch.arange(width) < torch.tensor([len(r) for r in rows])[:, None]).long()
        maskable = attention_mask.bool() & ~torch.isin(input_ids, torch.tensor(sorted(self.special)))
        chosen = maskable & (torch.rand(input_ids.shape, generator=self.generator) < MASK_RATE)
        if not chosen.any():  # a loss over no token would be NaN: read one
            candidates = maskable.flatten().nonzero()[:, 0]
            chosen.view(-1)[candidates[torch.randint(len(candidates), (1,), generator=self.generator)]] = True
        labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))
        draw = torch.rand(input_ids.shape, generator=self.generator)
        masked = input_ids.masked_fill(chosen & (draw < 0.8), self.mask_id)
        swap = chosen & (draw >= 0.8) & (draw < 0.9)
        random_ids = torch.randint(self.vocab_size, input_ids.shape, generator=self.generator)
        masked = torch.where(swap, random_ids, masked)
        return {"input_ids": masked, "attention_mask": attention_mask, "labels": labels}
