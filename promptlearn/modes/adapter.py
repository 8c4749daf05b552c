"""``adapter``: bottleneck adapters in every layer of the frozen encoder (Houlsby et al., ICML 2019).

The maintained ``adapters`` library (1.3.0) requires transformers ~= 4.57, not the 5.x we run, so
the adapters are ours (:mod:`promptlearn.backbone.bottleneck`): ``placement=houlsby`` after the
attention and the feed-forward block (swish), ``pfeiffer`` AdapterHub's Pfeiffer layout, one per
layer after the feed-forward block's LayerNorm (ReLU); bottleneck width H / ``reduction_factor``
(16); near-identity start. Only the adapters (and, with ``readout=cls``, a [CLS] head) train; the
default readout is label words at [MASK].
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn
from transformers.activations import ACT2FN

from promptlearn.backbone.bottleneck import PLACEMENTS, Adapter, adapter_sites, hook
from promptlearn.backbone.run_tensors import PREFIX, check_run_spec, initialise_from_run
from promptlearn.errors import PromptlearnError
from promptlearn.modes.base import ModeOptions, option, register
from promptlearn.modes.readout import ReadoutChoice
from promptlearn.readout.registry import check_readout

#: weights metadata naming the layout the adapters were trained in (see check_artifact)
LAYOUT_KEY = "adapter_layout"
#: the adapters library's activation for each placement (DoubleSeqBnConfig, SeqBnConfig)
ACTIVATIONS = {"houlsby": "swish", "pfeiffer": "relu"}


@dataclass
class AdapterOptions(ModeOptions):
    """Where the bottleneck adapters sit, their width and activation, and the readout."""

    placement: str = option(
        "houlsby",
        "'houlsby' (after attention and feed-forward) or 'pfeiffer' (AdapterHub's Pfeiffer layout, after the "
        "feed-forward block's LayerNorm).",
    )
    reduction_factor: int = option(16, "Bottleneck width = hidden size / this.")
    non_linearity: str | None = option(
        None,
        "An activation name of transformers; default: the adapters library's for the placement (swish for "
        "houlsby, relu for pfeiffer).",
    )
    readout: str = option("cloze", "'cloze' (label words at [MASK]) or 'cls' (linear head).", flag=True)
    init: str = option(
        "fresh",
        "Starting adapters: 'fresh' (near-identity), or run:PATH[#TASK] (another adapter run's, same placement "
        "and width).",
        path=PREFIX,
    )

    def __post_init__(self):
        if self.placement not in PLACEMENTS:
            raise PromptlearnError(f"adapter: placement must be one of {', '.join(PLACEMENTS)}, got {self.placement!r}")
        if self.non_linearity is None:
            self.non_linearity = ACTIVATIONS[self.placement]
        factor = self.reduction_factor
        if isinstance(factor, bool) or not isinstance(factor, int) or factor <= 0:
            raise PromptlearnError(f"adapter: reduction_factor must be a positive integer, got {factor!r}")
        if self.non_linearity not in ACT2FN:
            raise PromptlearnError(
                f"adapter: unknown non_linearity {self.non_linearity!r}; choose e.g. relu, gelu, tanh, swish"
            )
        check_readout(self.readout)
        if self.init != "fresh":
            if not self.init.startswith(PREFIX):
                raise PromptlearnError(f"adapter: init must be 'fresh' or run:PATH[#TASK], got {self.init!r}")
            check_run_spec(self.init)


@register
class AdapterMode(ReadoutChoice):
    name = "adapter"
    description = "Bottleneck adapters (Houlsby / Pfeiffer) in every layer, frozen model; label words or [CLS] head"
    options_class = AdapterOptions
    default_learning_rate = 5e-3

    def attach(self, model) -> None:
        options = self.options
        sites = adapter_sites(model.encoder, options.placement)
        self.adapters = nn.ModuleList(
            Adapter(model.hidden_size, options.reduction_factor, options.non_linearity) for _ in sites
        )
        for site, adapter in zip(sites, self.adapters, strict=True):
            hook(site, adapter, options.placement)
        if options.init != "fresh":
            initialise_from_run(
                model, options.init, list(self.adapters.parameters()), "adapters", scope="mode.adapters."
            )
        self.attach_head(model)

    def trained_parameters(self, model) -> dict[str, list[nn.Parameter]]:
        return {"adapters": list(self.adapters.parameters()), "head": self.head_parameters()}

    def artifact_metadata(self) -> dict[str, str]:
        return {LAYOUT_KEY: self.options.placement}

    def check_artifact(self, metadata: dict[str, str], origin: str) -> None:
        # pfeiffer adapters stored without the key were Houlsby's output adapter alone (swish): this
        # version's AdapterHub layout would read the same tensors in another place, silently
        if self.options.placement == "pfeiffer" and metadata.get(LAYOUT_KEY) != "pfeiffer":
            raise PromptlearnError(
                f"{origin} holds placement=pfeiffer adapters trained before pfeiffer became AdapterHub's layout "
                "(they were Houlsby's output adapter alone, with swish): this version would compute other "
                "numbers with them. Train the run again, or use the promptlearn version that trained it."
            )

    def group_learning_rates(self, learning_rate: float | None = None) -> dict[str, float]:
        return {"adapters": learning_rate or self.default_learning_rate, "head": self.head_learning_rate}
