"""The readouts by name (``--readout``): how a mode's hidden states become class scores.

Each readout is one module of this package that registers itself with :func:`register_readout`
(``cloze`` in :mod:`~promptlearn.readout.cloze`, ``cls`` in :mod:`~promptlearn.readout.heads`,
``warp`` in :mod:`~promptlearn.readout.warp`); the package imports every module in it, so a new
readout is one new file with one registration line. Modes offering the choice
(:class:`~promptlearn.modes.readout.ReadoutChoice`) build the head through it and ask it whether
the verbalizer is needed; they never test a readout's name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from promptlearn.errors import PromptlearnError


@dataclass(frozen=True)
class Readout:
    """One ``--readout`` choice.

    ``build(model, pooling)``: the head a mode owns for this readout, made when the mode attaches
    to ``model`` (a :class:`~promptlearn.readout.masked_lm.MaskedLM`, not imported here: the
    masked LM's scorer registers the cloze readout; frozen backbone, label words known).
    ``pooling`` is the state the mode's heads read ('cls' or 'mask', see
    :func:`~promptlearn.readout.heads.pool`). None: no head, the label words score at [MASK]
    (:func:`~promptlearn.readout.scores.class_scores`).
    ``reads_label_words``: the readout needs the verbalizer (decided before the model is loaded);
    a head made from the label words says so too, with ``reads_label_words = True`` on its class.
    ``pools``: the head reads the state ``pooling`` names rather than [MASK] itself, so a mode
    whose heads read [CLS] may encode the bare text instead of the pattern.
    ``summary``: one phrase for the error that lists the readouts.
    """

    name: str
    build: Callable[[nn.Module, str], nn.Module | None]
    reads_label_words: bool
    summary: str
    pools: bool = False


READOUTS: dict[str, Readout] = {}


def register_readout(readout: Readout) -> Readout:
    """Make ``readout`` available as ``--readout readout.name``."""
    if readout.name in READOUTS:
        raise ValueError(f"Readout {readout.name!r} is registered twice")
    READOUTS[readout.name] = readout
    return readout


def check_readout(readout: str) -> None:
    """Raise a user-facing error unless ``readout`` is a registered readout's name."""
    if readout not in READOUTS:
        names = sorted(READOUTS)
        summaries = "; ".join(f"'{name}': {READOUTS[name].summary}" for name in names)
        raise PromptlearnError(f"--readout must be one of {', '.join(names)} ({summaries}), got {readout!r}")


def get_readout(name: str) -> Readout:
    """The readout registered as ``name``."""
    check_readout(name)
    return READOUTS[name]
