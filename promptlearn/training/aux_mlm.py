"""Masked-LM batches of unlabelled text, for PET's auxiliary language-modelling loss.

BERT's recipe: 15 % of the non-special tokens of each text are chosen; of those, 80 % become the
mask token, 10 % a random token and 10 % stay; the loss reads the chosen positions only (label
-100 elsewhere). Batches are drawn in a seeded, endless shuffle, so a run is reproducible.

The batch goes through the run's mode like a training batch (:meth:`~promptlearn.readout.masked_lm.MaskedLM.mlm_loss`),
so a mode that trains a soft prompt or deep prefixes gets the MLM gradient too: ``prompt_length``
slots for the prompt follow [CLS], where a prompt mode puts its prompt in a pattern without
[SOFT] (``soft_positions``, never masked nor read). Pairs carry their segment ids, as in training.
"""

from __future__ import annotations

import torch

from promptlearn.errors import PromptlearnError

MASK_RATE = 0.15


class MlmBatches:
    """``texts`` (pairs allowed: ``(text_a, text_b)``) tokenized once; :meth:`next` gives one batch.

    Each batch: ``input_ids``, ``attention_mask``, ``token_type_ids`` (B, T), ``labels`` (B, T), -100
    where no loss is read, and with ``prompt_length`` n > 0 ``soft_positions`` (B, n): 1 .. n.
    """

    def __init__(self, texts: list, tokenizer, batch_size: int, max_length: int, seed: int, prompt_length: int = 0):
        if not texts:
            raise PromptlearnError("--aux-mlm-weight needs unlabelled text, but none is left to use")
        firsts = [t[0] if isinstance(t, tuple) else t for t in texts]
        seconds = [t[1] if isinstance(t, tuple) else None for t in texts]
        pairs = any(s is not None for s in seconds)
        encoded = tokenizer(
            firsts,
            [s or "" for s in seconds] if pairs else None,
            truncation=True,
            max_length=max_length - prompt_length,
            return_token_type_ids=True,
        )
        self.special = set(tokenizer.all_special_ids)
        rows = zip(encoded["input_ids"], encoded["token_type_ids"], strict=True)
        # the prompt's slots hold the special [UNK] (as in PVP.encode): never masked, never read
        slots = [tokenizer.unk_token_id or 0] * prompt_length
        kept = [(ids, types) for ids, types in rows if any(i not in self.special for i in ids)]
        self.ids = [ids[:1] + slots + ids[1:] for ids, _ in kept]
        self.segments = [types[:1] + [0] * prompt_length + types[1:] for _, types in kept]
        self.prompt_length = prompt_length
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
        drawn = self.order[: self.batch_size]
        del self.order[: self.batch_size]
        rows = [self.ids[i] for i in drawn]
        width = max(len(r) for r in rows)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        token_type_ids = torch.zeros((len(rows), width), dtype=torch.long)
        for row, i in enumerate(drawn):
            input_ids[row, : len(rows[row])] = torch.tensor(rows[row])
            token_type_ids[row, : len(rows[row])] = torch.tensor(self.segments[i])
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
        batch = {"input_ids": masked, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
        if self.prompt_length:
            batch["soft_positions"] = torch.arange(1, 1 + self.prompt_length).expand(len(rows), -1)
        return batch | {"labels": labels}
