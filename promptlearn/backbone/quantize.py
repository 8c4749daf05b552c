"""4-bit NormalFloat storage of frozen linear layers (QLoRA's base model), through ``bitsandbytes``.

Not a mode: :mod:`promptlearn.modes.lora` calls :func:`quantize_nf4` with ``quantize=nf4``. Each
selected ``nn.Linear`` becomes a ``bitsandbytes.nn.Linear4bit`` holding the same weights in NF4
(blocks of 64 with their own scale) and computing in float32; its bias stays in full precision.
The same dequantize-and-multiply path runs in training and evaluation, on CPU as on GPU.
:func:`dequantize_nf4` turns them back into plain layers with those dequantized weights, for exporters.
"""

from __future__ import annotations

import torch
from packaging.version import Version
from torch import nn

from promptlearn.errors import PromptlearnError

#: first bitsandbytes release whose 4-bit layers also run on CPU
MIN_BITSANDBYTES = "0.46"


def quantize_nf4(backbone: nn.Module, names: list[str]) -> None:
    """Replace the linear layers ``names`` (full names in ``backbone``) by frozen NF4 ones, in place."""
    bnb = _bitsandbytes()
    for name in names:
        linear = backbone.get_submodule(name)
        quantized = bnb.nn.Linear4bit(
            linear.in_features,
            linear.out_features,
            bias=linear.bias is not None,
            compute_dtype=torch.float32,
            quant_type="nf4",
            device="meta",
        )
        quantized.weight = bnb.nn.Params4bit(linear.weight.data, requires_grad=False, quant_type="nf4")
        if linear.bias is not None:
            quantized.bias = nn.Parameter(linear.bias.data, requires_grad=False)
        try:
            quantized = quantized.to(linear.weight.device)  # bitsandbytes quantizes on the move
        except (RuntimeError, NotImplementedError) as err:
            raise PromptlearnError(
                f"lora: quantize=nf4 is not available on {linear.weight.device} with this bitsandbytes: {err}"
            ) from err
        # bitsandbytes' packed bf16 CPU kernel serves eval only: predictions would differ from the
        # model that trained (by ~1e-2) and it needs block-aligned shapes. Keep the one path.
        quantized.support_avx512bf16_for_cpu = False
        parent, _, leaf = name.rpartition(".")
        setattr(backbone.get_submodule(parent), leaf, quantized)


def dequantize_nf4(module: nn.Module) -> None:
    """Replace every 4-bit layer in ``module`` by a plain ``nn.Linear`` holding its dequantized weight, in place.

    The run multiplies by exactly these weights (bitsandbytes dequantizes the NF4 blocks to the compute dtype,
    then multiplies), so the plain layer computes its numbers with ops any exporter traces; peft's LoRA
    wrappers keep their update around it. Call it on a model loaded for export only: it stops being 4-bit.
    """
    bnb = _bitsandbytes()
    for name, layer in list(module.named_modules()):
        if not isinstance(layer, bnb.nn.Linear4bit):
            continue
        weight = bnb.functional.dequantize_4bit(layer.weight.data, layer.weight.quant_state).to(layer.compute_dtype)
        plain = nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None, device="meta")
        plain.weight = nn.Parameter(weight, requires_grad=False)
        if layer.bias is not None:
            plain.bias = nn.Parameter(layer.bias.data.to(layer.compute_dtype), requires_grad=False)
        parent, _, leaf = name.rpartition(".")
        setattr(module.get_submodule(parent), leaf, plain)


def _bitsandbytes():
    try:
        import bitsandbytes
    except ImportError:
        raise PromptlearnError(
            f"lora: quantize=nf4 (QLoRA) needs bitsandbytes >= {MIN_BITSANDBYTES}: "
            "pip install 'promptlearn[qlora]' (CUDA GPUs, and CPUs from that release on)"
        ) from None
    if Version(bitsandbytes.__version__) < Version(MIN_BITSANDBYTES):
        raise PromptlearnError(
            f"lora: quantize=nf4 needs bitsandbytes >= {MIN_BITSANDBYTES} (installed: {bitsandbytes.__version__})"
        )
    return bitsandbytes
