"""What a benchmark measures besides time: peak memory, model FLOP utilisation, the machine.

Peak memory is read inside the fresh process that ran one configuration, so peaks never mix:
on GPU ``torch.cuda.max_memory_allocated`` (everything the process allocated: weights,
gradients, optimizer state, activations); on CPU the peak resident set size above what the
process held before the model was built (the Python interpreter and imported libraries are the
same for every row and would only dilute the ratios).
"""

from __future__ import annotations

import os
import platform
import resource
import sys

import torch
from torch import nn

from promptlearn.backbone.mask_only import last_layer

#: Dense bf16 tensor-core peak (TFLOP/s) by a piece of ``torch.cuda.get_device_name()``; first match wins.
PEAK_BF16_TFLOPS = (
    ("H100 PCIe", 756.0),
    ("H100", 989.0),
    ("H200", 989.0),
    ("GH200", 989.0),
    ("A100", 312.0),
    ("L40S", 362.0),
    ("A10G", 70.0),
    ("L4", 121.0),
)


def rss_bytes() -> int:
    """Resident set size of this process now."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return peak_rss_bytes()


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


class PeakMemory:
    """Peak memory of this process from ``start()`` on: CUDA allocations on GPU, RSS growth on CPU."""

    def __init__(self, device: torch.device):
        self.device = device
        self._base = 0

    def start(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self._base = rss_bytes()

    def peak_bytes(self) -> int:
        if self.device.type == "cuda":
            return int(torch.cuda.max_memory_allocated(self.device))
        return max(0, peak_rss_bytes() - self._base)


def synchronize(device: torch.device) -> None:
    """Wait for queued device work, so a wall-clock reading covers it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def non_embedding_parameters(backbone: nn.Module) -> int:
    """Parameters of the transformer (``base_model``) outside its embedding tables: the N of MFU's 6N."""
    encoder = getattr(backbone, "base_model", backbone)
    embedding = {id(p) for m in encoder.modules() if isinstance(m, nn.Embedding) for p in m.parameters()}
    return sum(p.numel() for p in encoder.parameters() if id(p) not in embedding)


def encoder_flops(backbone: nn.Module, tokens: int, factor: int, mask_rows: int | None = None) -> float:
    """Model FLOPs of one example of ``tokens`` tokens: ``factor`` (6 training, 2 inference) × parameters × tokens.

    With ``mask_rows`` (a mask-only last layer, :mod:`promptlearn.backbone.mask_only`) the last layer's keys
    and values are counted at every token and the rest of it (query, attention output, feed-forward) at the
    ``mask_rows`` masks only: the work actually done, not the 6N of a whole encoder.
    """
    parameters = non_embedding_parameters(backbone)
    layer = last_layer(getattr(backbone, "base_model", backbone)) if mask_rows is not None else None
    if layer is None:
        return factor * parameters * tokens
    last = sum(p.numel() for p in layer.parameters())
    attention = layer.attention.self
    everywhere = sum(p.numel() for m in (attention.key, attention.value) for p in m.parameters())
    return factor * ((parameters - last + everywhere) * tokens + (last - everywhere) * mask_rows)


def peak_tflops(device: torch.device, override: float | None = None) -> float | None:
    """Dense bf16 peak of ``device`` in TFLOP/s (``override`` wins); None when unknown or on CPU."""
    if override is not None:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((tflops for key, tflops in PEAK_BF16_TFLOPS if key in name), None)


def mfu(flops_per_item: float, items_per_second: float, peak: float | None) -> float | None:
    """Model FLOP utilisation: achieved model FLOP/s (FLOPs per example or token × their rate) over ``peak``
    (TFLOP/s); None without a peak."""
    if peak is None:
        return None
    return flops_per_item * items_per_second / (peak * 1e12)


def environment(device: torch.device) -> dict:
    """The machine and library versions, for the record beside the numbers."""
    import accelerate
    import transformers

    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "accelerate": accelerate.__version__,
        "platform": platform.platform(),
        "cpu": _cpu_name(),
        "cpu_cores": os.cpu_count(),
        "device": device.type,
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["gpu_memory_gib"] = round(torch.cuda.get_device_properties(device).total_memory / 2**30, 1)
        info["cuda"] = torch.version.cuda
    return info


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
