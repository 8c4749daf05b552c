"""PVP = Pattern + Verbalizer + tokenizer: turns examples into token ids with known mask positions.

Each segment is tokenized on its own (so truncation can cut input slots and nothing else), with a
leading space where the pattern has one: BPE tokenizers (RoBERTa) need it, WordPiece ignores it.
Label words are tokenized the way they would appear at ``[MASK]``: with a leading space when the
pattern puts a space before the mask (RoBERTa's ``Ġgreat``). A word may be several tokens: the
pattern's ``[MASK]`` then becomes as many consecutive masks as the longest label word needs
(scored by :class:`promptlearn.readout.label_words.LabelWords`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING

import numpy as np

from promptlearn.data.examples import Example, TaskData
from promptlearn.errors import PromptlearnError
from promptlearn.prompt.pattern import Literal, Mask, Pattern, Sep, Slot, Soft
from promptlearn.prompt.verbalizer import Verbalizer
from promptlearn.tasks import TaskShape, get_shape

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Encoded:
    """One tokenized example: ids with special tokens, where the masks and soft tokens sit, label index.

    ``mask_position``: the first mask; a verbalizer with multi-token words puts
    :attr:`PVP.mask_count` consecutive masks there.

    ``token_type_ids``: BERT's segment of each token, 0 up to and including the pattern's first
    ``[SEP]`` and 1 after it (as the tokenizer's own pair encoding does); all 0 without ``[SEP]``.
    ``soft_target``: a distribution over the labels to learn instead of ``label`` (distillation).
    ``choices``: a multiple-choice example's inputs, one per choice, each holding as many masks as
    that choice has tokens (``choice_tokens``); the example's own ids are its longest choice's.
    """

    input_ids: list[int]
    mask_position: int
    soft_positions: list[int]
    label: int | tuple[int, ...]
    token_type_ids: list[int]
    soft_target: tuple[float, ...] | None = None
    choices: tuple[Encoded, ...] = ()
    choice_tokens: tuple[tuple[int, ...], ...] = ()


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
        shape: TaskShape | None = None,
    ):
        if verbalizer is None and not labels:
            raise PromptlearnError("A PVP needs a verbalizer or, for a classification head, the label names")
        self.pattern = pattern
        self.verbalizer = verbalizer
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.labels = verbalizer.labels if verbalizer else list(labels)
        #: the task shape, which turns an example's label into its training target
        self.shape = (shape if shape is not None else get_shape(None)).bind(self.labels)
        self._label_index = {label: i for i, label in enumerate(self.labels)}
        self._prefix, self._suffix = _special_frame(tokenizer)
        self._plan = self._tokenize_pattern()
        self.label_word_tokens = self._label_word_tokens() if verbalizer else []
        self.mask_count = max((len(t) for words in self.label_word_tokens for t in words), default=1)
        self._plan = [(kind, value * self.mask_count if kind == "mask" else value) for kind, value in self._plan]
        fixed = len(self._prefix) + len(self._suffix) + sum(len(ids) for kind, ids in self._plan if kind != "slot")
        if fixed >= max_length:
            raise PromptlearnError(
                f"The pattern {pattern.source!r} alone takes {fixed} tokens with special tokens, which leaves "
                f"no room for the input within --max-length {max_length}. Raise --max-length or shorten it."
            )
        #: appends demonstrations to every encoded input when set (:mod:`promptlearn.prompt.demonstrations`)
        self.demonstrations = None
        #: the model's position count, set with the model: a longer input is refused before it reaches it
        self.max_positions: int | None = None

    @property
    def prefix_length(self) -> int:
        """Special tokens the tokenizer puts before the pattern (1 for BERT's [CLS])."""
        return len(self._prefix)

    @property
    def label_token_ids(self) -> list[list[int]]:
        """The one token id of every label word, by label, for code that needs single-token words.

        Raises when a word is several tokens: :attr:`label_word_tokens` has every word's tokens.
        """
        for label, words in zip(self.labels, self.label_word_tokens, strict=True):
            if any(len(ids) > 1 for ids in words):
                raise PromptlearnError(f"This needs single-token label words, but label {label!r} has a longer word")
        return [[ids[0] for ids in words] for words in self.label_word_tokens]

    def check_data(self, data: TaskData) -> None:
        """Raise if the pattern's slots or the labels (as the task shape reads them) do not fit the dataset."""
        self.check_fields(data)
        self.shape.check_data(self, data)

    def check_fields(self, data: TaskData) -> None:
        """Raise if the pattern's slots do not fit the dataset's texts (a missing one would be read as "")."""
        if "question" in self.pattern.fields:
            unasked = [(split, row) for split, examples in data.splits.items()
                       for row, ex in enumerate(examples, start=1) if ex.question is None]  # fmt: skip
            if unasked:
                split, row = unasked[0]
                raise PromptlearnError(
                    f"The pattern {self.pattern.source!r} uses {{question}}, but row {row} of the {split!r} split of "
                    f"{data.source} has no 'question' value. Give every row one, or remove {{question}}."
                )
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

    def encode(self, examples: list[Example], soft_targets=None, *, draw: int = 0) -> list[Encoded]:
        """Tokenize and truncate ``examples`` (inputs only, longest slot first).

        ``soft_targets`` (N, C), e.g. an ensemble's probabilities, are what the objective then learns
        (KL at its temperature, see :class:`~promptlearn.training.objective.Objective`) instead of the labels.
        With demonstrations, ``draw`` picks which (seeded) draw of them each input gets.
        """
        if soft_targets is not None:
            targets = [tuple(float(p) for p in row) for row in soft_targets]
            if len(targets) != len(examples) or any(len(row) != len(self.labels) for row in targets):
                raise PromptlearnError(
                    f"Soft targets must be one row of {len(self.labels)} probabilities per example "
                    f"({len(examples)} examples), got {len(targets)} rows"
                )
            encoded = self.encode(examples, draw=draw)
            return [dataclasses.replace(e, soft_target=t) for e, t in zip(encoded, targets, strict=True)]
        slot_tokens = {}
        for kind, value in self._plan:
            if kind == "slot" and value not in slot_tokens:
                field, lead = value
                texts = [lead + (getattr(ex, field) or "") for ex in examples]
                slot_tokens[value] = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        encoded = [
            self._assemble(i, ex, slot_tokens) if ex.choices is None else self._with_choices(i, ex, slot_tokens)
            for i, ex in enumerate(examples)
        ]
        if self.demonstrations is not None:
            encoded = self.demonstrations.append(self, examples, encoded, draw)
        self._check_positions(encoded)
        return encoded

    def _check_positions(self, encoded: list[Encoded]) -> None:
        longest = max((len(e.input_ids) for e in encoded), default=0)
        if self.max_positions is not None and longest > self.max_positions:
            raise PromptlearnError(
                f"An input takes {longest} tokens, more than the model's {self.max_positions} positions "
                f"(--max-length {self.max_length} lets it): use --max-length {self.max_positions} or less."
            )

    def pad(self, batch: list[Encoded]) -> dict[str, np.ndarray]:
        """Pad ``batch`` to its longest member (dynamic padding): int64 arrays ``input_ids``,
        ``attention_mask``, ``token_type_ids`` (B, T), ``mask_positions`` (B,) and, with soft tokens,
        ``soft_positions`` (B, S). Numpy, so that the ONNX predictor feeds the same arrays without torch.

        Built from the concatenated ids, one copy into each array: no per-row arrays.
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
            "input_ids": input_ids,
            "attention_mask": filled.astype(np.int64),
            "token_type_ids": token_type_ids,
            "mask_positions": np.array([e.mask_position for e in batch], dtype=np.int64),
        }
        if self.pattern.soft_count:
            out["soft_positions"] = np.array([e.soft_positions for e in batch], dtype=np.int64)
        return out

    def collate(self, batch: list[Encoded]) -> dict[str, torch.Tensor]:
        """:meth:`pad`'s arrays as tensors, with ``labels`` (B,) and, when set, ``soft_targets`` (B, C).

        torch is imported here, not with the module: encoding text needs no torch (the ONNX predictor).
        """
        import torch

        if batch[0].choices:
            return self._collate_choices(batch)
        out = {name: torch.from_numpy(array) for name, array in self.pad(batch).items()}
        out["labels"] = torch.tensor([e.label for e in batch])
        if batch[0].soft_target is not None:
            out["soft_targets"] = torch.tensor([e.soft_target for e in batch], dtype=torch.float)
        return out

    def _collate_choices(self, batch: list[Encoded]) -> dict[str, torch.Tensor]:
        """A multiple-choice batch: every example's choices as rows (N = the choices of all B examples), with
        ``choice_tokens`` and ``choice_valid`` (N, M), ``choice_counts`` (B,) and ``labels`` (B,)."""
        import torch

        rows = [choice for example in batch for choice in example.choices]
        tokens = [ids for example in batch for ids in example.choice_tokens]
        out = {name: torch.from_numpy(array) for name, array in self.pad(rows).items()}
        table = torch.zeros(len(tokens), max(map(len, tokens)), dtype=torch.long)
        for row, ids in enumerate(tokens):
            table[row, : len(ids)] = torch.tensor(ids)
        out["choice_tokens"] = table
        out["choice_valid"] = torch.arange(table.size(1)) < torch.tensor([len(ids) for ids in tokens])[:, None]
        out["choice_counts"] = torch.tensor([len(example.choices) for example in batch])
        out["labels"] = torch.tensor([example.label for example in batch])
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

    def _with_choices(self, index: int, example: Example, slot_tokens) -> Encoded:
        """A multiple-choice example: one input per choice, the choice's tokens as the masks' count."""
        lead = " " if self.mask_after_space else ""
        tokens = [
            tuple(self.tokenizer(lead + choice, add_special_tokens=False)["input_ids"]) for choice in example.choices
        ]
        if len(tokens) > len(self.labels):  # a run's labels are its choice positions: more have no column
            raise PromptlearnError(
                f"The example {example.text_a!r} has {len(tokens)} choices; this run reads at most "
                f"{len(self.labels)} (the most its training data had)."
            )
        empty = [i for i, ids in enumerate(tokens) if not ids]
        if empty:
            raise PromptlearnError(
                f"Choice {empty[0]} of the example {example.text_a!r} is empty: every choice needs text"
            )
        rows = tuple(self._assemble(index, example, slot_tokens, masks=len(ids)) for ids in tokens)
        longest = max(rows, key=lambda row: len(row.input_ids))
        return dataclasses.replace(longest, choices=rows, choice_tokens=tuple(tokens))

    def _assemble(self, index: int, example: Example, slot_tokens, masks: int | None = None) -> Encoded:
        """``masks``: how many masks the pattern's [MASK] becomes here (default: :attr:`mask_count`)."""
        pieces: list[list[int]] = []
        slots: list[int] = []
        for kind, value in self._plan:
            if kind == "slot":
                slots.append(len(pieces))
                pieces.append(list(slot_tokens[value][index]))
            elif kind == "mask" and masks is not None:
                pieces.append(value[:1] * masks)
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
        label = self.shape.target(example.label, self._label_index)
        return Encoded(input_ids, mask_position, soft_positions, label, token_type_ids)

    def _label_word_tokens(self) -> list[list[list[int]]]:
        """Token ids of every label word, by label: ``[[word ids, ...], ...]``; a word may be several tokens.

        Raises naming every word that contains a token the tokenizer does not know.
        """
        lead = " " if self.mask_after_space else ""
        table, problems = [], []
        for label, words in self.verbalizer.label_words:
            ids = []
            for word in words:
                pieces = self.tokenizer(lead + word, add_special_tokens=False)["input_ids"]
                if not pieces or self.tokenizer.unk_token_id in pieces:
                    shown = self.tokenizer.convert_ids_to_tokens(pieces)
                    problems.append(f"{word!r} (label {label!r}) is unknown to this tokenizer (it becomes {shown})")
                ids.append(pieces)
            table.append(ids)
        if problems:
            raise PromptlearnError(
                f"Label word{'s: ' if len(problems) > 1 else ' '}{'; '.join(problems)}. "
                "Choose words the model's vocabulary can spell (`promptlearn show-pattern` shows how words tokenize)."
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
