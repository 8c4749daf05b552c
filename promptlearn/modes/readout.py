"""The ``readout`` choice shared by every mode that can read out other than label words.

The readouts are registered in :mod:`promptlearn.readout.registry`, one module each:

- ``readout=cloze`` (the default): label words at [MASK], scored through the MLM head.
- ``readout=cls``: a new :class:`~promptlearn.readout.heads.ClassificationHead` (random init). ``bitfit``,
  ``lora`` and ``adapter`` feed it the bare text and read [CLS], like a classic classifier;
  ``ptuning_v2`` keeps the pattern and reads [CLS]; the prompt modes (:class:`PromptReadout`) keep
  the pattern and read [MASK].
- ``readout=warp``: a :class:`~promptlearn.readout.warp.WarpHead` at [MASK], whose class embeddings start
  as the label words' output rows, so training starts exactly at the cloze scores.

A mode offering the choice derives from :class:`ReadoutChoice` and adds only what it trains
itself. Its options carry ``readout: str = "cloze"`` checked by :func:`~promptlearn.readout.registry.check_readout`;
each declares the field in its own place, because the field order is the order ``--mode-opt``
errors and ``promptlearn modes`` list the options in (:class:`ReadoutOptions`, readout alone, is
the default: bitfit's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import nn

from promptlearn.modes.base import Mode, ModeOptions, option
from promptlearn.readout.registry import check_readout, get_readout


@dataclass
class ReadoutOptions(ModeOptions):
    """The readout of a mode that may read label words or a head."""

    readout: str = option(
        "cloze",
        "'cloze' (label words at [MASK]), 'cls' (a new linear head) or 'warp' (class embeddings at [MASK] "
        "that start as the label words').",
        flag=True,
    )

    def __post_init__(self):
        check_readout(self.readout)


class ReadoutChoice(Mode):
    """A mode whose readout is ``options.readout``: label words at [MASK], or ``self.head``.

    Subclasses call :meth:`attach_head` at the end of :meth:`attach` and put :meth:`head_parameters`
    in a ``head`` group of :meth:`trained_parameters`; ``self.head`` is ``None`` for the cloze readout.
    ``uses_verbalizer`` is the readout's ``reads_label_words``: False for ``cls``, True for ``warp``,
    which is made from the label words.
    """

    options_class: ClassVar[type[ModeOptions]] = ReadoutOptions
    #: learning rate of the ``head`` group (ptuning_v2 gives the head its main rate instead)
    head_learning_rate: ClassVar[float] = 1e-3
    #: whether a readout that pools (readout=cls) encodes the bare text
    #: (:meth:`~promptlearn.prompt.pattern.Pattern.inputs_only`) rather than the pattern
    cls_reads_bare_text: ClassVar[bool] = True
    #: the state a pooling head (readout=cls) reads ('cls' or 'mask', see :func:`~promptlearn.readout.heads.pool`)
    cls_pooling: ClassVar[str] = "cls"
    #: these modes have always run the full last layer (the mask-only one is not checked against their layers)
    mask_only_layer: ClassVar[bool] = False

    def __init__(self, options: ModeOptions | None = None):
        super().__init__(options)
        self.readout = get_readout(self.options.readout)
        self.uses_verbalizer = self.readout.reads_label_words

    def adapt_pattern(self, pattern):
        pattern = super().adapt_pattern(pattern)
        return pattern.inputs_only() if self.cls_reads_bare_text and self.readout.pools else pattern

    def attach_head(self, model) -> None:
        """Create the readout's head (after the mode's own modules, so seeded inits stay put); none for cloze."""
        self.head = self.readout.build(model, self.cls_pooling)

    def head_parameters(self) -> list[nn.Parameter]:
        """The head's parameters; none for the cloze readout."""
        return [] if self.head is None else list(self.head.parameters())


class PromptReadout(ReadoutChoice):
    """The readout choice of the prompt modes (``soft_prompt``, ``ptuning``, ``ppt``).

    The soft tokens are what trains, so every readout encodes the pattern with its prompt, and
    ``readout=cls`` puts its head on the **[MASK]** state, not on [CLS] (PEFT's P-tuning classifies
    ``BertForSequenceClassification``'s pooled [CLS]: the NSP pooler, then a new linear layer).
    Reasons: the pattern keeps its meaning (the prompt steers the very position the head reads, as
    in the cloze readout, where pretraining taught the MLM to gather the answer's evidence); and
    ``cls`` and ``warp`` then read the same state, so they differ only in warp's frozen MLM transform
    and its verbalizer-made start, a clean comparison. Not accuracy: on the untrained bert-tiny a
    linear probe on either state scores alike (agnews 71.6 % on [MASK], 71.3 % on [CLS];
    docs/results/readout-gap/geometry.json).
    The head (cls or warp) trains at 1e-2, the ``head`` mode's rate for a linear probe on a frozen
    encoder, whatever the prompt's rate (``--lr``): at ptuning's 1e-3 a fresh head was still
    improving at step 100 of every agnews run, its training loss no lower than the cloze readout's
    (docs/modes.md, "Choosing a readout").
    Cloze and warp keep the mask-only last layer (:mod:`promptlearn.backbone.mask_only`); cls runs the full one.
    """

    head_learning_rate: ClassVar[float] = 1e-2
    cls_reads_bare_text: ClassVar[bool] = False
    cls_pooling: ClassVar[str] = "mask"
    mask_only_layer: ClassVar[bool] = True
