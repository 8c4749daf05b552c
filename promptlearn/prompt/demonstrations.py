"""Demonstrations (LM-BFF, Gao et al. 2021): each input is followed by one filled-in example per label.

A demonstration is the pattern applied to a training example of label ``c``, with ``c``'s (first)
label word where the mask was: ``[CLS] query It was [MASK] . [SEP] a fine film It was great .
[SEP] a dull film It was terrible . [SEP]``. It is drawn from the pool (the run's training
examples), never equal to the query itself; a label whose only example is the query gets none.

- Truncation: the query keeps its own budget (``max_length``) and its mask, exactly as without
  demonstrations; each demonstration is truncated to its own budget (``length`` tokens, its
  trailing separator included), cutting only its text slots, never its label word.
- ``similar``: draw among the half of the label's pool closest to the query (cosine of ``embed``'s
  vectors; a run embeds with its own model, :func:`promptlearn.run.demonstrations.mean_pooled`, as LM-BFF's
  SBERT is not available offline).
- ``sets``: prediction averages the class probabilities over this many independent draws
  (LM-BFF: 16). Training and checkpoint selection use one draw per example (``draw=0``).
- Demonstration tokens take the segment (``token_type_ids``) of the query's last token.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from promptlearn.data.examples import Example
from promptlearn.errors import PromptlearnError
from promptlearn.prompt.pvp import PVP, Encoded


@dataclass
class Demonstrations:
    """Appends demonstrations to encoded queries; :meth:`PVP.encode` calls :meth:`append`.

    ``embed`` maps examples to vectors (N, H) for ``similar``; ``seed`` makes every draw reproducible.
    """

    pool: list[Example]
    sets: int = 16
    length: int = 64
    similar: bool = False
    seed: int = 0
    embed: Callable[[list[Example]], np.ndarray] | None = None
    _filler: PVP | None = field(default=None, init=False, repr=False)  # the PVP that renders demonstrations

    def check(self, pvp: PVP, max_positions: int | None) -> None:
        """Raise when demonstrations cannot work with ``pvp`` (soft tokens, no label words, too long)."""
        if pvp.verbalizer is None:
            raise PromptlearnError("Demonstrations fill the pattern with label words: they need a verbalizer mode")
        if pvp.pattern.soft_count:
            raise PromptlearnError(
                "Demonstrations copy the pattern, and this one has [SOFT] tokens (the mode adds them or the pattern "
                "has them): use them with a pattern and mode without soft tokens (e.g. pet, mlm_head)"
            )
        if self.similar and self.embed is None:
            raise PromptlearnError("Similar demonstrations need the model to embed examples")
        total = pvp.max_length + len(pvp.labels) * self.length
        if max_positions is not None and total > max_positions:
            raise PromptlearnError(
                f"With demonstrations an input may take {pvp.max_length} + {len(pvp.labels)} x {self.length} = "
                f"{total} tokens, more than the model's {max_positions} positions: lower --max-length or "
                "--demonstration-length"
            )
        self._filler_for(pvp)

    def append(self, pvp: PVP, examples: list[Example], encoded: list[Encoded], draw: int = 0) -> list[Encoded]:
        """``encoded`` (the queries, already within ``max_length``) with one demonstration per label appended."""
        filler = self._filler_for(pvp)
        bodies = {}  # each pool example rendered once per call
        closeness = self._closeness(examples) if self.similar else None
        rng = random.Random(f"{self.seed}/{draw}")
        out = []
        for row, (query, done) in enumerate(zip(examples, encoded, strict=True)):
            input_ids, token_types = list(done.input_ids), list(done.token_type_ids)
            for label_index, label in enumerate(pvp.labels):
                options = [i for i, ex in enumerate(self.pool) if ex.label == label and not _same(ex, query)]
                if not options:
                    continue
                if closeness is not None:
                    options = sorted(options, key=lambda i: -closeness[row, i])[: max(1, len(options) // 2)]
                pick = rng.choice(options)
                if pick not in bodies:
                    bodies[pick] = self._body(filler, pvp, self.pool[pick], label_index)
                input_ids += bodies[pick]
                token_types += [token_types[-1]] * len(bodies[pick])
            out.append(dataclasses.replace(done, input_ids=input_ids, token_type_ids=token_types))
        return out

    def _filler_for(self, pvp: PVP) -> PVP:
        if self._filler is None or self._filler.tokenizer is not pvp.tokenizer:
            try:
                self._filler = PVP(
                    pvp.pattern, pvp.verbalizer, pvp.tokenizer, self.length + pvp.prefix_length, pvp.labels
                )
            except PromptlearnError as err:
                raise PromptlearnError(
                    f"--demonstration-length {self.length} is too short for one demonstration of this pattern: {err}"
                ) from err
        return self._filler

    def _body(self, filler: PVP, pvp: PVP, example: Example, label_index: int) -> list[int]:
        """The demonstration's ids: pattern filled with the label's first word, without leading specials.

        The word's tokens replace the pattern's masks (as many as the longest label word needs).
        """
        done = filler.encode([Example(example.text_a, example.text_b)])[0]
        ids = list(done.input_ids)
        ids[done.mask_position : done.mask_position + filler.mask_count] = pvp.label_word_tokens[label_index][0]
        return ids[pvp.prefix_length :]

    def _closeness(self, examples: list[Example]) -> np.ndarray:
        """Cosine similarity (N, P) of each query to each pool example."""
        queries, pool = _unit(self.embed(examples)), _unit(self.embed(self.pool))
        return queries @ pool.T


def _same(a: Example, b: Example) -> bool:
    return a.text_a == b.text_a and a.text_b == b.text_b


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
