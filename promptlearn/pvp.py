"""PVP = Pattern + Verbalizer + tokenizer: turns examples into token ids with a known mask position.

Each segment is tokenized on its own (so truncation can cut input slots and nothing else), with a
leading space where the pattern has one: BPE tokenizers (RoBERTa) need it, WordPiece ignores it.
Label words are tokenized the way they would appear at ``[MASK]``: with a leading space when the
pattern puts a space before the mask (RoBERTa's ``Ġgreat``).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

import numpy as np
import torch

from promptlearn.data import Example, TaskData
from promptlearn.errors import PromptlearnError
from promptlearn.pattern import Literal, Mask, Pattern, Sep, Slot, Soft
from promptlearn.verbalizer import Verbalizer


@dataclass(frozen=True)
class Encoded:
    """One tokenized example: ids with special tokens, where the mask and soft tokens sit, label index.

    ``token_type_ids``: BERT's segment of each token, 0 up to and including the pattern's first
    ``[SEP]`` and 1 after it (as the tokenizer's own pair encoding does); all 0 without ``[SEP]``.
    """

    input_ids: list[int]
    mask_position: int
    soft_positions: list[int]
    label: int
    token_type_ids: list[int]


class PVP:
    """Binds a pattern and a verbalizer to a tokenizer.

    ``labels`` fixes the class order: the verbalizer's order when there is one, else the given
    list (modes with a classification head need no verbalizer).
    """

    def __init__(
        self,
        pattern: Pattern,
        verbalizer: Verbalizer | None,
        tokenizer,
        max_length: int = 128,
        labels: list[str] | None = None,
    ):
        if verbalizer is None and not labels:
            raise PromptlearnError("A PVP needs a verbalizer or, for a classification head, the label names")
        self.pattern = pattern
        self.verbalizer = verbalizer
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.labels = verbalizer.labels if verbalizer else list(labels)
        self._label_index = {label: i for i, label in enumerate(self.labels)}
        self._prefix, self._suffix = _special_frame(tokenizer)
        self._plan = self._tokenize_pattern()
        fixed = len(self._prefix) + len(self._suffix) + sum(len(ids) for kind, ids in self._plan if kind != "slot")
        if fixed >= max_length:
            raise PromptlearnError(
                f"The pattern {pattern.source!r} alone takes {fixed} tokens with special tokens, which leaves "
                f"no room for the input within --max-length {max_length}. Raise --max-length or shorten it."
            )
        self.label_token_ids = self._label_word_ids() if verbalizer else []

    def check_data(self, data: TaskData) -> None:
        """Raise if the pattern's slots or the verbalizer's labels do not fit the dataset."""
        if "text_b" in self.pattern.fields and not data.has_text_b:
            raise PromptlearnError(
                f"The pattern {self.pattern.source!r} uses {{text_b}}, but {data.source} is a single-sentence "
                "dataset (no text_b column). Remove {text_b} or name the column with --text-b-column."
            )
        if data.has_text_b and "text_b" not in self.pattern.fields:
            raise PromptlearnError(
                f"{data.source} is a sentence-pair dataset, but the pattern {self.pattern.source!r} never uses "
                "{text_b}. Write both slots, e.g. '{text_a} ? [MASK] , {text_b}'."
            )
        if self.verbalizer is not None:
            self.verbalizer.check_labels(data.labels)

    def encode(self, examples: list[Example]) -> list[Encoded]:
        """Tokenize and truncate ``examples`` (inputs only, longest slot first)."""
        slot_tokens = {}
        for kind, value in self._plan:
            if kind == "slot" and value not in slot_tokens:
                field, lead = value
                texts = [lead + (getattr(ex, field) or "") for ex in examples]
                slot_tokens[value] = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        return [self._assemble(i, ex, slot_tokens) for i, ex in enumerate(examples)]

    def collate(self, batch: list[Encoded]) -> dict[str, torch.Tensor]:
        """Pad ``batch`` to its longest member (dynamic padding); tensors are (B, T) / (B,) / (B, S).

        Built in numpy from the concatenated ids, one copy into each tensor: no per-row tensors.
        """
        lengths = np.array([len(e.input_ids) for e in batch], dtype=np.int64)
        filled = np.arange(lengths.max()) < lengths[:, None]  # (B, T): row-major, so rows fill in order
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        input_ids = np.full(filled.shape, pad, dtype=np.int64)
        input_ids[filled] = np.fromiter(chain.from_iterable(e.input_ids for e in batch), np.int64, lengths.sum())
        token_type_ids = np.zeros(filled.shape, dtype=np.int64)
        token_type_ids[filled] = np.fromiter(
            chain.from_iterable(e.token_type_ids for e in batch), np.int64, lengths.sum()
        )
        out = {
            "input_ids": torch.from_numpy(input_ids),
            "attention_mask": torch.from_numpy(filled.astype(np.int64)),
            "token_type_ids": torch.from_numpy(token_type_ids),
            "mask_positions": torch.tensor([e.mask_position for e in batch]),
            "labels": torch.tensor([e.label for e in batch]),
        }
        if self.pattern.soft_count:
            out["soft_positions"] = torch.tensor([e.soft_positions for e in batch])
        return out

    def tokens(self, encoded: Encoded) -> list[str]:
        """Readable tokens of an encoded example (soft tokens shown as [SOFT])."""
        tokens = self.tokenizer.convert_ids_to_tokens(encoded.input_ids)
        for position in encoded.soft_positions:
            tokens[position] = "[SOFT]"
        return tokens

    def _tokenize_pattern(self) -> list[tuple[str, object]]:
        """Plan of ("ids", [ids]) / ("sep", [id]) / ("mask", [id]) / ("soft", [placeholders]) /
        ("slot", (field, lead)).
        """
        plan: list[tuple[str, object]] = []
        space_before = False
        started = False
        self.mask_after_space = False
        for segment in self.pattern.segments:
            lead = " " if space_before and started else ""
            if isinstance(segment, Literal):
                content = segment.text.strip()
                if content:
                    lead = " " if (space_before or segment.text[:1].isspace()) and started else ""
                    plan.append(("ids", self.tokenizer(lead + content, add_special_tokens=False)["input_ids"]))
                    space_before = segment.text[-1:].isspace()
                    started = True
                else:
                    space_before = space_before or bool(segment.text)
                continue
            if isinstance(segment, Slot):
                plan.append(("slot", (segment.field, lead)))
            elif isinstance(segment, Mask):
                if self.tokenizer.mask_token_id is None:
                    raise PromptlearnError("This tokenizer has no mask token: use a masked language model")
                self.mask_after_space = space_before and started
                plan.append(("mask", [self.tokenizer.mask_token_id]))
            elif isinstance(segment, Soft):
                placeholder = self.tokenizer.unk_token_id or 0
                plan.append(("soft", [placeholder] * segment.count))
            elif isinstance(segment, Sep):
                plan.append(("sep", [self.tokenizer.sep_token_id]))
            space_before = False
            started = True
        return plan

    def _assemble(self, index: int, example: Example, slot_tokens) -> Encoded:
        pieces: list[list[int]] = []
        slots: list[int] = []
        for kind, value in self._plan:
            if kind == "slot":
                slots.append(len(pieces))
                pieces.append(list(slot_tokens[value][index]))
            else:
                pieces.append(list(value))
        budget = self.max_length - len(self._prefix) - len(self._suffix)
        excess = sum(len(p) for p in pieces) - budget
        for _ in range(max(0, excess)):
            pieces[max(slots, key=lambda s: len(pieces[s]))].pop()
        input_ids = list(self._prefix)
        token_type_ids = [0] * len(input_ids)
        segment = 0
        mask_position, soft_positions = -1, []
        for (kind, _), piece in zip(self._plan, pieces, strict=True):
            if kind == "mask":
                mask_position = len(input_ids)
            elif kind == "soft":
                soft_positions += range(len(input_ids), len(input_ids) + len(piece))
            input_ids += piece
            token_type_ids += [segment] * len(piece)
            if kind == "sep":
                segment = 1  # BERT has two segments: a later [SEP] stays in the second
        input_ids += self._suffix
        token_type_ids += [segment] * len(self._suffix)
        if example.label is None:
            label = -1
        elif example.label in self._label_index:
            label = self._label_index[example.label]
        else:
            raise PromptlearnError(f"Label {example.label!r} is not one of this PVP's labels {self.labels}")
        return Encoded(input_ids, mask_position, soft_positions, label, token_type_ids)

    def _label_word_ids(self) -> list[list[int]]:
        """Token id of every label word; raises naming every word that is not one known token."""
        lead = " " if self.mask_after_space else ""
        table, problems = [], []
        for label, words in self.verbalizer.label_words:
            ids = []
            for word in words:
                pieces = self.tokenizer(lead + word, add_special_tokens=False)["input_ids"]
                shown = self.tokenizer.convert_ids_to_tokens(pieces)
                if len(pieces) != 1:
                    problems.append(f"{word!r} (label {label!r}) is {len(pieces)} tokens for this tokenizer: {shown}")
                elif pieces[0] == self.tokenizer.unk_token_id:
                    problems.append(f"{word!r} (label {label!r}) is unknown to this tokenizer (it becomes {shown})")
                else:
                    ids.append(pieces[0])
            table.append(ids)
        if problems:
            raise PromptlearnError(
                f"Label word{'s: ' if len(problems) > 1 else ' '}{'; '.join(problems)}. "
                "Each label word must be one token of the model's vocabulary (multi-token label words are not "
                "supported yet; `promptlearn show-pattern` shows how words tokenize)."
            )
        return table


def _special_frame(tokenizer) -> tuple[list[int], list[int]]:
    """The special tokens the tokenizer puts before and after one sequence, e.g. ([CLS], [SEP])."""
    probe = tokenizer("a", add_special_tokens=False)["input_ids"]
    framed = tokenizer("a")["input_ids"]
    for start in range(len(framed) - len(probe) + 1):
        if framed[start : start + len(probe)] == probe:
            return framed[:start], framed[start + len(probe) :]
    raise PromptlearnError(f"Cannot tell which special tokens {type(tokenizer).__name__} adds around a sequence")
