"""``lora``: low-rank updates of the frozen encoder's linear layers (LoRA, Hu et al., ICLR 2022), via ``peft``.

PEFT has no masked-LM task type, so we inject the adapter into the ``*ForMaskedLM`` backbone with
``peft.get_peft_model`` (no task type) and run the encoder as every mode does: the cloze readout
(label words at [MASK]) sees the adapted hidden states, ``token_type_ids`` and mask positions stay
ours. ``readout=cls`` puts a linear head on [CLS] instead. The MLM head stays frozen unless
``mlm_head=true``: the targets are looked up inside the encoder only.

Besides ``weights.safetensors``, a run folder holds ``adapter/`` in PEFT's own format, so
``PeftModel.from_pretrained(AutoModelForMaskedLM.from_pretrained(base), run / "adapter")`` loads it
without promptlearn; ``promptlearn export --merge`` writes the merged plain model.

``qlora`` (or ``lora`` with ``quantize=nf4``) is QLoRA (Dettmers et al., NeurIPS 2023): the
encoder's linear layers are stored in 4-bit NormalFloat (``bitsandbytes``) and frozen; the LoRA
weights and their optimizer state stay in full precision (:mod:`promptlearn.backbone.quantize`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from promptlearn.backbone.architectures import architecture
from promptlearn.backbone.run_tensors import PREFIX, check_run_spec, initialise_from_run
from promptlearn.errors import PromptlearnError
from promptlearn.modes.base import ModeOptions, option, register
from promptlearn.modes.readout import ReadoutChoice
from promptlearn.readout.registry import check_readout

QUANTIZE = ("none", "nf4")
ADAPTER_FOLDER = "adapter"


@dataclass
class LoraOptions(ModeOptions):
    """The low-rank update: its rank, scale, dropout and the layers it adapts."""

    r: int = option(8, "Rank of the update.")
    alpha: float = option(16.0, "Scaling: the update is alpha/r * B A.")
    dropout: float = option(0.05, "Dropout on the LoRA input while training.")
    target: str = option(
        "query-value",
        "'query-value' (the attention's query and value projections, as in the paper), 'all-linear' (every "
        "linear layer of the encoder) or comma-separated module names (e.g. 'query,key,value,dense'), always "
        "inside the encoder.",
    )
    readout: str = option("cloze", "'cloze' (label words at [MASK]) or 'cls' (linear head).", flag=True)
    quantize: str = option("none", "'none' or 'nf4' (QLoRA: the frozen encoder in 4 bits; needs bitsandbytes).")
    mlm_head: bool = option(
        False,
        "Also adapt the linear layer(s) of the MLM head's transform (never the decoder, tied to the word embeddings).",
    )
    init: str = option(
        "fresh", "Starting LoRA: 'fresh' (peft's), or run:PATH[#TASK] (another lora run's, same rank).", path="run:"
    )

    def __post_init__(self):
        if isinstance(self.r, bool) or not isinstance(self.r, int) or self.r <= 0:
            raise PromptlearnError(f"lora: r must be a positive integer, got {self.r!r}")
        if self.alpha <= 0:
            raise PromptlearnError(f"lora: alpha must be positive, got {self.alpha!r}")
        if not 0 <= self.dropout < 1:
            raise PromptlearnError(f"lora: dropout must be in [0, 1), got {self.dropout!r}")
        if not self.target.strip(" ,"):
            raise PromptlearnError("lora: target must be query-value, all-linear or module names")
        check_readout(self.readout)
        if self.init != "fresh":
            if not self.init.startswith(PREFIX):
                raise PromptlearnError(f"lora: init must be 'fresh' or run:PATH[#TASK], got {self.init!r}")
            check_run_spec(self.init)
        if self.quantize not in QUANTIZE:
            raise PromptlearnError(f"lora: quantize must be one of {', '.join(QUANTIZE)}, got {self.quantize!r}")


def head_linears(model) -> list[str]:
    """Full names of the MLM head's linear layers, the decoder (tied to the word embeddings) left out."""
    decoder = model.backbone.get_output_embeddings()
    return [
        name
        for name, module in model.backbone.named_modules()
        if not name.startswith(_encoder_prefix(model)) and isinstance(module, nn.Linear) and module is not decoder
    ]


def target_modules(model, target: str) -> list[str]:
    """Full names (in the backbone) of the encoder's linear layers that ``target`` selects."""
    linears = {
        name: module
        for name, module in model.backbone.named_modules()
        if name.startswith(_encoder_prefix(model)) and isinstance(module, nn.Linear)
    }
    if target == "all-linear":
        chosen = list(linears)
    else:
        if target == "query-value":
            facts = architecture(model.backbone)
            leaves = facts.query_value_targets()
            if leaves is None:
                raise PromptlearnError(
                    f"lora: no default targets for model type {facts.name!r}; "
                    "give --mode-opt target=all-linear or the module names"
                )
        else:
            leaves = [leaf.strip() for leaf in target.split(",") if leaf.strip()]
        chosen = [name for name in linears if name.rsplit(".", 1)[-1] in leaves]
    if not chosen:
        known = sorted({name.rsplit(".", 1)[-1] for name in linears})
        raise PromptlearnError(f"lora: target {target!r} matches no linear layer of the encoder (it has: {known})")
    return chosen


def _encoder_prefix(model) -> str:
    prefix = model.backbone.base_model_prefix
    return prefix + "." if hasattr(model.backbone, prefix) else ""


@register
class LoraMode(ReadoutChoice):
    name = "lora"
    description = "LoRA (peft): low-rank updates of the frozen encoder's query/value; label words or [CLS] head"
    options_class = LoraOptions
    default_learning_rate = 5e-3

    def attach(self, model) -> None:
        from peft import LoraConfig, get_peft_model

        options = self.options
        targets = target_modules(model, options.target) + (head_linears(model) if options.mlm_head else [])
        if options.quantize == "nf4":
            from promptlearn.backbone.quantize import quantize_nf4

            quantize_nf4(model.backbone, target_modules(model, "all-linear"))
        config = LoraConfig(
            r=options.r,
            lora_alpha=options.alpha,
            lora_dropout=options.dropout,
            target_modules=targets,
            base_model_name_or_path=model.backbone.config.name_or_path,
        )
        # Kept outside the module tree: it wraps the backbone in place, whose parameters (LoRA's
        # included) are registered under ``backbone`` already.
        with warnings.catch_warnings():  # peft asks transformers a question that 5.x renamed
            warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning)
            self.__dict__["peft_model"] = get_peft_model(model.backbone, config)
        self.lora = [p for name, p in model.backbone.named_parameters() if ".lora_" in name]
        if options.init != "fresh":
            initialise_from_run(model, options.init, self.lora, "LoRA")
        self.attach_head(model)

    def trained_parameters(self, model) -> dict[str, list[nn.Parameter]]:
        return {"lora": list(self.lora), "head": self.head_parameters()}

    def group_learning_rates(self, learning_rate: float | None = None) -> dict[str, float]:
        return {"lora": learning_rate or self.default_learning_rate, "head": self.head_learning_rate}

    def save_files(self, model, folder: Path) -> None:
        """PEFT's own format in ``folder/adapter`` (adapter_config.json + adapter_model.safetensors).

        peft keeps ``target_modules`` as a set and writes it in the set's order, which changes with
        PYTHONHASHSEED; sorted lists for the save make two identical runs write identical bytes.
        """
        config = self.peft_model.peft_config["default"]
        sets = {key: value for key, value in vars(config).items() if isinstance(value, set)}
        try:
            for key, value in sets.items():
                setattr(config, key, sorted(value))
            self.peft_model.save_pretrained(folder / ADAPTER_FOLDER)
        finally:
            for key, value in sets.items():
                setattr(config, key, value)

    def merged_backbone(self, model) -> nn.Module:
        if self.head is not None:
            readout = self.options.readout
            raise PromptlearnError(f"lora: a run with readout={readout} has a head of its own; only cloze runs merge")
        if self.options.quantize != "none":
            raise PromptlearnError("lora: a quantized (QLoRA) run cannot be merged into a full-precision model")
        return self.peft_model.merge_and_unload()

    def traceable(self, model) -> None:
        """A quantized run's 4-bit layers become float32 ones holding the weights it computes with: one ONNX graph
        of plain matrix products, the LoRA update beside each (peft would merge it into the weight re-quantized)."""
        if self.options.quantize == "nf4":
            from promptlearn.backbone.quantize import dequantize_nf4

            dequantize_nf4(model.backbone)


@dataclass
class QLoraOptions(LoraOptions):
    """As lora's, with the frozen encoder in 4-bit NormalFloat by default."""

    quantize: str = option("nf4", "'nf4' (the frozen encoder in 4-bit NormalFloat; needs bitsandbytes) or 'none'.")


@register
class QLoraMode(LoraMode):
    name = "qlora"
    description = "QLoRA: LoRA on the encoder stored in 4-bit NF4 (bitsandbytes); LoRA weights in full precision"
    options_class = QLoraOptions
    requires = ("bitsandbytes",)
