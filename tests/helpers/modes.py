"""Helpers shared by the mode test files: a tiny run config, what a mode declares, the options a mode needs."""

from __future__ import annotations

import pytest

from promptlearn.modes import MODES
from promptlearn.run.config import RunConfig

#: option sets the contract also checks, beyond every mode's defaults: (mode, options)
VARIANTS = [
    ("lora", {"target": "all-linear", "r": 2}),
    ("lora", {"readout": "cls"}),
    ("lora", {"mlm_head": True}),
    ("adapter", {"placement": "pfeiffer", "non_linearity": "gelu"}),
    ("adapter", {"readout": "cls"}),
    ("pet", {"train_layers": "top:1"}),
    ("pet", {"layer_lr_decay": 0.5}),
    ("finetune", {"train_layers": "top:1", "layer_lr_decay": 0.5}),
    # readouts beside the label words: a linear head, and warp's class embeddings made from the words
    ("bitfit", {"readout": "warp"}),
    ("lora", {"readout": "warp", "mlm_head": True}),
    ("adapter", {"readout": "warp"}),
    ("ptuning_v2", {"readout": "warp"}),
    ("soft_prompt", {"readout": "cls"}),
    ("soft_prompt", {"readout": "warp"}),
    ("ptuning", {"readout": "cls"}),
    ("ptuning", {"readout": "warp"}),
    ("ptuning", {"readout": "cls", "tune_model": True}),
    ("ptuning", {"readout": "warp", "tune_model": True}),
    ("ppt", {"readout": "cls"}),
    ("ppt", {"readout": "warp"}),
]
#: every mode with its defaults (in the fast tier), then the variants (marked slow: the full suite runs them)
CASES = [pytest.param(mode, {}, id=mode) for mode in sorted(MODES)] + [
    pytest.param(mode, options, id=mode + "".join(f"-{k}={v}" for k, v in options.items()), marks=pytest.mark.slow)
    for mode, options in VARIANTS
]


def tiny_config(model_dir, data_dir, mode: str, **changes) -> RunConfig:
    values = {
        "model": str(model_dir),
        "data": str(data_dir),
        "pattern": "{text} it was [MASK] .",
        "verbalizer": {"positive": ["great"], "negative": ["terrible"]},
        "mode": mode,
        "max_steps": 3,
        "eval_every": 1000,
        "batch_size": 3,
        "warmup_ratio": 0.0,
    }
    return RunConfig(**(values | changes))


def declared_names(model) -> set[str]:
    """Names of the parameters the mode's optimizer groups hold: what it says it trains."""
    declared = {id(p) for group in model.mode.param_groups(model, None) for p in group["params"]}
    return {name for name, p in model.named_parameters() if id(p) in declared}


def contract_options(mode: str, model_dir, folder) -> dict:
    """Options a mode cannot run without, made for ``model_dir`` in ``folder`` (empty for most modes).

    ``ppt`` needs a pretrained-prompt artifact; four real-token embeddings of the model stand in
    for a pretrained prompt (the contract is about training and reloading, not about pretraining).
    """
    from promptlearn.errors import PromptlearnError

    for package in MODES[mode].requires:
        pytest.importorskip(package, reason=f"mode {mode} needs {package}")
    try:
        MODES[mode].from_options({})
        return {}
    except PromptlearnError:
        pass
    from promptlearn.backbone.loading import load_backbone
    from promptlearn.backbone.prompt_artifact import PromptArtifact, artifact_metadata

    backbone = load_backbone(str(model_dir))
    prompt = backbone.get_input_embeddings().weight.detach()[5:9].clone()  # (4, H)
    metadata = artifact_metadata(backbone, str(model_dir), prompt_length="4")
    return {"prompt": str(PromptArtifact(prompt, metadata).save(folder / "prompt.safetensors"))}
