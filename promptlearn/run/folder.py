"""The run folder: what a trained run writes, and how a run is rebuilt from it.

A run folder holds ``config.json`` (the resolved :class:`~promptlearn.run.config.RunConfig`),
``metrics.json``, ``weights.safetensors`` (only what the mode trained) and ``predictions.jsonl`` (test
split), plus what the mode and the run-level features add (e.g. ``calibration.json`` with
``--calibrate``, ``demonstrations.jsonl`` with ``--demonstrations``).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file

from promptlearn.backbone.fingerprint import check_same_base, size_mismatches
from promptlearn.errors import PromptlearnError
from promptlearn.model.prompt_model import PromptModel
from promptlearn.outputs import (
    EXPORT,
    check_output_free,
    staged_folder,
    to_json,
    write_json_atomic,
    write_safetensors_atomic,
    write_text_atomic,
)
from promptlearn.run import features
from promptlearn.run.config import RunConfig
from promptlearn.run.prompted import Prompted, build
from promptlearn.tasks import TaskShape, get_shape
from promptlearn.training.trainer import restore_trained

WEIGHTS = "weights.safetensors"
#: the safetensors metadata key holding the run's label order (a JSON list)
LABELS_KEY = "labels"


def save_run(
    folder: Path, run: Prompted, artifact: dict[str, torch.Tensor], metrics: dict, predictions: list[dict] | None
) -> None:
    """Write ``run`` into ``folder`` (a staged one: see :func:`~promptlearn.outputs.staged_folder`); ``artifact``
    is its mode's :meth:`~promptlearn.modes.base.Mode.artifact_state`."""
    config = run.config
    write_json_atomic(folder / "config.json", config.to_dict())
    write_safetensors_atomic(
        folder / WEIGHTS,
        {k: v.contiguous().cpu() for k, v in artifact.items()},
        metadata={
            "base_model": config.model,
            "mode": config.mode,
            LABELS_KEY: json.dumps(run.pvp.labels),
            **run.model.mode.artifact_metadata(),
            **base_signature(run.model),
        },
    )
    run.model.mode.save_files(run.model, folder)
    if predictions is not None:
        write_predictions(folder / "predictions.jsonl", predictions)
    for feature in features.FEATURES:
        feature.save(run, folder)
    write_json_atomic(folder / "metrics.json", metrics)


def load_run(run_dir: str | Path, allow_other_base: bool = False) -> Prompted:
    """Rebuild a trained run: base model from its config, then the stored (trained) tensors.

    ``allow_other_base``: load onto a base model other than the one the run was trained on (same sizes).
    """
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise PromptlearnError(f"{run_dir} is not a run folder (no config.json); train one with `promptlearn train`")
    config = RunConfig.load(run_dir / "config.json").anchored()
    weights_path = run_dir / WEIGHTS
    if not weights_path.is_file():
        raise PromptlearnError(f"{run_dir} has no {WEIGHTS}: the run did not finish; train it again")
    try:
        with safe_open(weights_path, "pt") as handle:
            metadata = handle.metadata() or {}
        state = load_file(weights_path)
    except (SafetensorError, OSError) as err:
        raise PromptlearnError(
            f"{weights_path} cannot be read as safetensors ({err}): the file is truncated or damaged. "
            "Train the run again (or copy the folder again, if it was copied)."
        ) from err
    run = build(config)
    check_label_order(metadata, run.pvp.labels, weights_path, run_dir / "config.json")
    run.model.mode.check_artifact(metadata, str(weights_path))
    load_artifact(run.model, state, str(weights_path), metadata, allow_other_base)
    run.model.eval()
    for feature in features.FEATURES:
        feature.load(run, run_dir)
    return run


def check_label_order(metadata: dict[str, str], labels: list[str], weights: Path, config: Path) -> None:
    """Refuse a run whose labels are not in the order its weights were trained in.

    A head's (or warp's) rows are the labels in training order: reordered labels in a hand-edited
    ``config.json`` would invert every prediction. Runs saved before the order was stored pass.
    """
    if LABELS_KEY in metadata and json.loads(metadata[LABELS_KEY]) != labels:
        raise PromptlearnError(
            f"{weights} was trained with the labels in the order {json.loads(metadata[LABELS_KEY])}, but {config} "
            f"lists {labels}: its scores would go to the wrong labels. Restore the order in {config}."
        )


def export_merged(run_dir: str | Path, output: str | Path, overwrite: bool = False) -> None:
    """Write a trained run as one plain ``transformers`` masked-LM folder (model and tokenizer) to ``output``.

    Scored with the run's pattern and verbalizer, it gives the run's predictions; the mode decides
    whether it can be merged (:meth:`~promptlearn.modes.base.Mode.merged_backbone`).
    """
    check_output_free(output, overwrite, EXPORT, {"the run": run_dir})
    run = load_run(run_dir)
    backbone = run.model.mode.merged_backbone(run.model)
    with staged_folder(output, overwrite, EXPORT, {"the run": run_dir, "its base model": run.config.model}) as folder:
        backbone.save_pretrained(folder)
        run.model.tokenizer.save_pretrained(folder)


def base_signature(model: PromptModel) -> dict[str, str]:
    """What an artifact must match in its base model: sizes and hashes (see :mod:`promptlearn.backbone.fingerprint`).

    Taken when the model was built, before training changed it.
    """
    return dict(model.base_fingerprint)


def load_artifact(
    model: PromptModel,
    state: dict[str, torch.Tensor],
    origin: str,
    metadata: dict[str, str] | None = None,
    allow_other_base: bool = False,
) -> None:
    """Load stored tensors into ``model``.

    A tensor the model lacks or shapes differently is an error, and so is a base-model fingerprint
    in ``metadata`` (see :func:`base_signature`) that differs from the model's: a soft prompt has
    the same shape on any model of the same size, yet means nothing on another model.
    ``allow_other_base`` accepts another model of the same sizes (the hashes are not compared).
    """
    own = model.state_dict()
    signature = base_signature(model)
    mismatched = size_mismatches(metadata or {}, signature)
    unknown = sorted(set(state) - set(own))
    wrong = [
        f"{name}: stored {tuple(tensor.shape)}, model {tuple(own[name].shape)}"
        for name, tensor in state.items()
        if name in own and own[name].shape != tensor.shape
    ]
    problems = [f"trained with {', '.join(mismatched)}"] if mismatched else []
    problems += wrong[:3] + [f"unknown tensor {n}" for n in unknown[:3]]
    if problems:
        details = "; ".join(problems)
        raise PromptlearnError(
            f"{origin} does not fit the base model {model.backbone.config.name_or_path!r} "
            f"(hidden size {model.hidden_size}, vocabulary {model.backbone.config.vocab_size}, "
            f"{model.backbone.config.num_hidden_layers} layers): {details}. Load it onto the model it was trained on."
        )
    check_same_base(metadata or {}, signature, origin, allow_other_base)
    restore_trained(model, state, origin)


def write_predictions(path: Path, records: list[dict]) -> None:
    write_text_atomic(path, "".join(to_json(r, indent=None) + "\n" for r in records))


def metrics_of(records: list[dict], labels: list[str], shape: TaskShape | None = None) -> dict:
    """The metrics of :meth:`Prompted.predict` records that all carry a gold label, as ``shape`` (default:
    single-label, accuracy and macro-F1) computes them."""
    return (shape if shape is not None else get_shape(None)).record_metrics(records, labels)
