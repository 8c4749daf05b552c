"""The one table of per-architecture facts, keyed by ``config.model_type``.

Every module that depends on how an encoder family lays out its modules asks :func:`architecture`
(peft keeps its per-model facts the same way, in ``peft.utils.constants``): layer-wise training
(:mod:`~promptlearn.backbone.layerwise`: embeddings, layers, shared layers), deep prompts
(:mod:`~promptlearn.backbone.prefix`: each layer's self-attention), adapters
(:mod:`~promptlearn.backbone.bottleneck`: each layer's sublayers), the mask-only last layer
(:mod:`~promptlearn.backbone.mask_only`), LoRA's default targets (:mod:`promptlearn.modes.lora`) and
the cloze readout's MLM-head transform (:mod:`promptlearn.readout.cloze`). Supporting a new encoder
family is one :class:`Architecture` entry in :data:`ARCHITECTURES`.

A family not in the table gets :func:`architecture`'s fallback, ``Architecture(name)``: parameter
names read with the BERT layout (:func:`promptlearn.backbone.layerwise.depth_groups` still refuses
a model whose layers it cannot find), no deep prompts, LoRA targets from peft's own table, no
mask-only warning, and the MLM head and adapter sublayers found by trying every layout the table knows.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass

#: prefix of a head step that is transformers' activation function of that name, not a module of the model
ACTIVATION = "ACT2FN:"


@dataclass(frozen=True)
class MlmHead:
    """Where a masked LM keeps the part of its MLM head before the vocabulary projection.

    ``transform``: attribute paths from the ``*ForMaskedLM`` model, applied in order; a step
    ``ACT2FN:<name>`` is transformers' activation of that name (the head calls it as a function).
    ``signature``: further paths a model must have to hold this head, beyond the transform's own
    (a module named as generically as ``head`` says little by itself).
    """

    transform: tuple[str, ...]
    signature: tuple[str, ...] = ()

    @property
    def paths(self) -> tuple[str, ...]:
        """Every attribute path a model must have to hold this head."""
        return tuple(step for step in self.transform if not step.startswith(ACTIVATION)) + self.signature


@dataclass(frozen=True)
class Sublayers:
    """Module paths inside one transformer layer where the adapters hook.

    ``attention``: the attention block's output projection; ``feed_forward``: the feed-forward
    block's output projection; ``norm``: the LayerNorm that closes the feed-forward block.
    """

    attention: str
    feed_forward: str
    norm: str


@dataclass(frozen=True)
class Architecture:
    """What promptlearn knows about one encoder family (``name``: its ``config.model_type``).

    Layer-wise training (parameter names are matched by fragments, so one entry serves a family's every head):
    ``embeddings``: a fragment of every input-embedding parameter's name (depth 0).
    ``layer``: a regex whose group 1 is the transformer layer's index in a parameter name.
    ``first_layer``: fragments of parameters outside the layer list that layer 0 already reads:
    DeBERTa's relative-position embeddings (every layer's attention reads them) and their
    LayerNorm, DeBERTa-v2's convolution beside layer 0.
    ``shared_layers``: one set of layer weights runs at every depth (ALBERT), so depths have no
    parameters of their own.

    Modules:
    ``self_attention``: (the module list of layers in the base model, the self-attention inside one
    layer) for deep prompts; None: deep prompts are refused.
    ``query_value``: the leaf names ``target=query-value`` means for LoRA; None: peft's own table.
    ``mlm_head``: where the MLM head's transform is; None: found by trying every head in the table.
    ``sublayers``: where the adapters hook; None: found by trying every layout in the table.
    ``mask_only_layer``: the last layer has the BERT layout :mod:`~promptlearn.backbone.mask_only` reads,
    so it is computed at [MASK] alone (a layer that turns out otherwise is a warning).
    """

    name: str
    embeddings: str = "embeddings."
    layer: re.Pattern = re.compile(r"(?:^|\.)layer\.(\d+)\.")
    first_layer: tuple[str, ...] = ()
    shared_layers: bool = False
    self_attention: tuple[str, str] | None = None
    query_value: tuple[str, ...] | None = None
    mlm_head: MlmHead | None = None
    sublayers: Sublayers | None = None
    mask_only_layer: bool = False

    def query_value_targets(self) -> list[str] | None:
        """LoRA's ``query-value`` leaf names: the table's, else peft's for this family; None if neither knows."""
        if self.query_value is not None:
            return list(self.query_value)
        from peft.utils import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as peft_targets

        return peft_targets.get(self.name)


BERT_HEAD = MlmHead(("cls.predictions.transform",))
ROBERTA_HEAD = MlmHead(("lm_head.dense", ACTIVATION + "gelu", "lm_head.layer_norm"))
QUERY_VALUE = ("query", "value")
BERT_SUBLAYERS = Sublayers("attention.output.dense", "output.dense", "output.LayerNorm")
#: the whole layout of BERT and the families that copied it
BERT_FACTS = dict(
    self_attention=("encoder.layer", "attention.self"),
    sublayers=BERT_SUBLAYERS,
    mask_only_layer=True,
)

ARCHITECTURES: dict[str, Architecture] = {
    entry.name: entry
    for entry in (
        Architecture("bert", mlm_head=BERT_HEAD, query_value=QUERY_VALUE, **BERT_FACTS),
        Architecture("roberta", mlm_head=ROBERTA_HEAD, query_value=QUERY_VALUE, **BERT_FACTS),
        Architecture("xlm-roberta", mlm_head=ROBERTA_HEAD, query_value=QUERY_VALUE, **BERT_FACTS),
        # no query_value: LoRA asks peft, which has no default for CamemBERT and ERNIE (give target=)
        Architecture("camembert", mlm_head=ROBERTA_HEAD, **BERT_FACTS),
        Architecture("electra", mlm_head=MlmHead(("generator_predictions",)), query_value=QUERY_VALUE, **BERT_FACTS),
        Architecture("ernie", mlm_head=BERT_HEAD, **BERT_FACTS),
        Architecture(
            "distilbert",  # layers at transformer.layer.N
            self_attention=("transformer.layer", "attention"),
            query_value=("q_lin", "v_lin"),
            mlm_head=MlmHead(("vocab_transform", "activation", "vocab_layer_norm")),
            sublayers=Sublayers("attention.out_lin", "ffn.lin2", "output_layer_norm"),
        ),
        Architecture(
            "albert",
            shared_layers=True,
            query_value=QUERY_VALUE,
            mlm_head=MlmHead(("predictions.dense", "predictions.activation", "predictions.LayerNorm")),
            sublayers=Sublayers("attention.dense", "ffn_output", "full_layer_layer_norm"),  # one layer for all depths
        ),
        Architecture(
            "deberta",
            first_layer=("encoder.rel_embeddings.",),
            query_value=("in_proj",),
            mlm_head=BERT_HEAD,
            sublayers=BERT_SUBLAYERS,
        ),
        Architecture(
            "deberta-v2",
            first_layer=("encoder.rel_embeddings.", "encoder.LayerNorm.", "encoder.conv."),
            query_value=("query_proj", "value_proj"),
            mlm_head=BERT_HEAD,
            sublayers=BERT_SUBLAYERS,
        ),
        # its transform sits beside the decoder, in ``head``; the one module that holds both is the model
        Architecture("modernbert", mlm_head=MlmHead(("head",), signature=("head.dense", "head.act", "head.norm"))),
    )
}


def architecture(config_or_model) -> Architecture:
    """The facts for a model's family (a model, its base model or its config); the fallback for one
    not in the table (see the module docstring)."""
    config = getattr(config_or_model, "config", config_or_model)
    name = getattr(config, "model_type", None)
    return ARCHITECTURES.get(name) or Architecture(name)


def mlm_heads(config_or_model) -> list[MlmHead]:
    """The MLM-head layouts to try on a model: its family's, then every other one of the table, in table order."""
    return _own_first(architecture(config_or_model).mlm_head, [entry.mlm_head for entry in ARCHITECTURES.values()])


def sublayer_layouts(config_or_model) -> list[Sublayers]:
    """The adapter layouts to try on a model: its family's, then every other one of the table, in table order."""
    return _own_first(architecture(config_or_model).sublayers, [entry.sublayers for entry in ARCHITECTURES.values()])


def deep_prompt_families() -> list[str]:
    """The families deep prompts support (those with a ``self_attention`` path), sorted."""
    return sorted(name for name, entry in ARCHITECTURES.items() if entry.self_attention is not None)


def takes_segments(encoder) -> bool:
    """Whether the encoder reads ``token_type_ids``: it has more than one segment type and takes the
    argument (BERT, ALBERT, ELECTRA); RoBERTa's single type, DistilBERT and ModernBERT do not."""
    segment_types = getattr(encoder.config, "type_vocab_size", 0)
    return segment_types > 1 and "token_type_ids" in inspect.signature(encoder.forward).parameters


def _own_first(own, table: list) -> list:
    return list(dict.fromkeys(value for value in [own, *table] if value is not None))
