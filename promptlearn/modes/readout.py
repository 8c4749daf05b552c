"""The ``readout`` choice shared by modes that read out either label words or a [CLS] head.

``readout=cloze`` (the default) reads label words at [MASK] with the verbalizer; ``readout=cls``
puts a new :class:`~promptlearn.heads.ClassificationHead` on [CLS]. ``bitfit``, ``lora``, ``adapter``
and ``ptuning_v2`` offer the choice: their mode derives from :class:`ReadoutChoice` and adds only
what it trains itself. Their options carry ``readout: str = "cloze"`` checked by
:func:`~promptlearn.heads.check_readout`; each declares the field in its own place, because the
field order is the order ``--mode-opt`` errors and ``promptlearn modes`` list the options in
(:class:`ReadoutOptions`, readout alone, is the default: bitfit's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import nn

from promptlearn.heads import ClassificationHead, check_readout
from promptlearn.modes.base import Mode, ModeOptions


@dataclass
class ReadoutOptions(ModeOptions):
    """``readout``: 'cloze' (label words at [MASK], the default) or 'cls' (linear head on [CLS])."""

    readout: str = "cloze"

    def __post_init__(self):
        check_readout(self.readout)


class ReadoutChoice(Mode):
    """A mode whose readout is ``options.readout``: label words at [MASK], or ``self.head`` on [CLS].

    Subclasses call :meth:`attach_head` at the end of :meth:`attach` and put :meth:`head_parameters`
    in a ``head`` group of :meth:`trained_parameters`; ``self.head`` is ``None`` for the cloze readout.
    """

    options_class: ClassVar[type[ModeOptions]] = ReadoutOptions
    #: learning rate of the ``head`` group (readout=cls); ptuning_v2 gives the head its main rate instead
    head_learning_rate: ClassVar[float] = 1e-3
    #: whether readout=cls encodes the bare text (:meth:`~promptlearn.pattern.Pattern.inputs_only`)
    #: rather than the pattern
    cls_reads_bare_text: ClassVar[bool] = True
    #: these modes have always run the full last layer (the mask-only one is not checked against their layers)
    mask_only_layer: ClassVar[bool] = False

    def __init__(self, options: ReadoutOptions | None = None):
        super().__init__(options)
        self.uses_verbalizer = self.options.readout == "cloze"

    def adapt_pattern(self, pattern):
        pattern = super().adapt_pattern(pattern)
        return pattern.inputs_only() if self.cls_reads_bare_text and not self.uses_verbalizer else pattern

    def attach_head(self, model) -> None:
        """Create the [CLS] head for readout=cls (after the mode's own modules, so seeded inits stay put)."""
        if not self.uses_verbalizer:
            self.head = ClassificationHead(model.hidden_size, model.num_labels)

    def head_parameters(self) -> list[nn.Parameter]:
        """The head's parameters; none for the cloze readout."""
        return [] if self.head is None else list(self.head.parameters())
