"""Pattern: a cloze template parsed once into a frozen tuple of segments.

Grammar (no ``eval``; one regex):

- ``{text}`` / ``{text_a}`` and ``{text_b}``: input slots. They are *shortenable*: truncation cuts
  them and never the pattern's own words. ``{question}``: a multiple-choice example's question
  (COPA's "cause" / "effect"), a slot like the others.
- ``[MASK]``: the cloze slot, whatever the tokenizer's mask token is.
- ``[SOFT]`` / ``[SOFT:n]``: one / n trainable prompt tokens (their meaning comes from the mode).
- ``[SEP]``: the tokenizer's separator token.
- anything else is literal text.

A pattern with no input slot gets the input in front: ``It was [MASK].`` means
``{text} It was [MASK].``. This module knows nothing of tokenizers or models.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from promptlearn.errors import PromptlearnError

TEXT_SLOTS = {"text": "text_a", "text_a": "text_a", "text_b": "text_b", "question": "question"}

_TOKEN = re.compile(r"\{(?P<slot>[^{}]*)\}|\[(?P<special>[^\[\]]*)\]|(?P<stray>[{}])")
_SOFT = re.compile(r"SOFT(?::(?P<n>\d+))?")


@dataclass(frozen=True)
class Literal:
    """Fixed pattern text, whitespace kept as written."""

    text: str


@dataclass(frozen=True)
class Slot:
    """An input field of the example (``text_a``, ``text_b`` or ``question``); truncation cuts only these."""

    field: str


@dataclass(frozen=True)
class Mask:
    """The cloze position whose label-word scores are the class scores."""


@dataclass(frozen=True)
class Soft:
    """``count`` trainable prompt tokens."""

    count: int = 1


@dataclass(frozen=True)
class Sep:
    """The tokenizer's separator token."""


Segment = Literal | Slot | Mask | Soft | Sep


@dataclass(frozen=True)
class Pattern:
    """A parsed template: ``source`` as the user wrote it and its ``segments`` in order."""

    source: str
    segments: tuple[Segment, ...]

    @classmethod
    def parse(cls, source: str, origin: str | None = None) -> Pattern:
        """Parse ``source``; ``origin`` (e.g. a file name) is named in error messages."""
        segments: list[Segment] = []
        cursor = 0
        for match in _TOKEN.finditer(source):
            if match.start() > cursor:
                segments.append(Literal(source[cursor : match.start()]))
            segments.append(_segment_for(match, source, origin))
            cursor = match.end()
        if cursor < len(source):
            segments.append(Literal(source[cursor:]))
        masks = sum(isinstance(s, Mask) for s in segments)
        if masks == 0:
            raise _error(source, origin, len(source), "it has no [MASK]; add one where the label word goes")
        if masks > 1:
            raise _error(
                source,
                origin,
                source.index("[MASK]", source.index("[MASK]") + 1),
                "it has more than one [MASK]; multi-mask patterns are not supported yet, keep exactly one",
            )
        if not any(isinstance(s, Slot) for s in segments):
            segments.insert(0, Slot("text_a"))
            if not source[:1].isspace():
                segments.insert(1, Literal(" "))
        return cls(source=source, segments=tuple(segments))

    @property
    def fields(self) -> set[str]:
        """The input fields this pattern reads (``text_a``, ``text_b``, ``question``)."""
        return {s.field for s in self.segments if isinstance(s, Slot)}

    @property
    def soft_count(self) -> int:
        """Total number of ``[SOFT]`` tokens."""
        return sum(s.count for s in self.segments if isinstance(s, Soft))

    def inputs_only(self) -> Pattern:
        """The bare input, as classic classifiers read it: the text slots only, [SEP] between two.

        No [MASK], no prompt words: for modes that classify with a head rather than label words.
        """
        slots: list[Segment] = [Slot("text_a")]
        if "text_b" in self.fields:
            slots += [Sep(), Slot("text_b")]
        source = " [SEP] ".join("{" + s.field + "}" for s in slots if isinstance(s, Slot))
        return Pattern(source=source, segments=tuple(slots))

    def with_leading_soft(self, count: int) -> Pattern:
        """This pattern with ``count`` soft tokens in front (used by prompt modes when it has none)."""
        return Pattern(source=f"[SOFT:{count}] {self.source}", segments=(Soft(count), *self.segments))


def _segment_for(match: re.Match[str], source: str, origin: str | None) -> Segment:
    if match.group("stray") is not None:
        raise _error(source, origin, match.start(), "unbalanced brace; write input slots as {text} or {text_b}")
    slot = match.group("slot")
    if slot is not None:
        if slot not in TEXT_SLOTS:
            raise _error(
                source,
                origin,
                match.start(),
                f"unknown slot {{{slot}}}; expected {{text}}, {{text_a}}, {{text_b}} or {{question}}",
            )
        return Slot(TEXT_SLOTS[slot])
    special = match.group("special")
    if special == "MASK":
        return Mask()
    if special == "SEP":
        return Sep()
    soft = _SOFT.fullmatch(special)
    if soft:
        count = int(soft.group("n") or 1)
        if count < 1:
            raise _error(source, origin, match.start(), "[SOFT:n] needs n >= 1")
        return Soft(count)
    raise _error(
        source,
        origin,
        match.start(),
        f"unknown token [{special}]; expected [MASK], [SOFT], [SOFT:n] or [SEP]",
    )


def _error(source: str, origin: str | None, column: int, problem: str) -> PromptlearnError:
    where = f" in {origin}" if origin else ""
    pointer = " " * column + "^"
    return PromptlearnError(f"Bad pattern{where} at column {column + 1}: {problem}.\n  {source}\n  {pointer}")
