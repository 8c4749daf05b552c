"""``promptlearn export --format onnx``: a trained run as one ONNX graph from token ids to class probabilities.

The graph is the run's own prediction path traced once: :class:`ProbabilityGraph` wraps the run's
``PromptModel``, its objective's probabilities and its calibration, so the exported numbers are those of
``load_run(R).predict_proba``. It is traced with the TorchScript exporter (``dynamo=False``): on torch 2.13 it
traces every mode's hooks (soft prompts, deep prompts, adapters, LoRA) in about a second, where the dynamo
exporter took several times longer and needs onnxscript besides. The folder gets the graph, the tokenizer
and the manifest (:mod:`promptlearn.export.manifest`) that :mod:`promptlearn.export.predictor` reads.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import torch
from torch import nn

from promptlearn.data.examples import Example
from promptlearn.errors import PromptlearnError
from promptlearn.export.manifest import FILE, FORMAT, FORMAT_VERSION, GRAPH, pattern_to_json
from promptlearn.outputs import EXPORT, check_output_free, staged_folder, write_json_atomic
from promptlearn.run.folder import load_run
from promptlearn.run.prompted import Prompted
from promptlearn.run.recipe import MEMBERS, RECIPE_FILE, RECIPES, is_recipe, kept_entries
from promptlearn.run.recipe import load_run as load_recipe
from promptlearn.tasks.base import DEFAULT_SHAPE

#: the ONNX operator set written: onnxruntime 1.18 and later run it
OPSET = 18
#: the graph's inputs, in order; ``soft_positions`` only where the pattern has soft tokens
INPUTS = ("input_ids", "attention_mask", "token_type_ids", "mask_positions", "soft_positions")
#: which axes of each input may vary: batch and sequence
DYNAMIC_AXES = {
    "input_ids": {0: "batch", 1: "tokens"},
    "attention_mask": {0: "batch", 1: "tokens"},
    "token_type_ids": {0: "batch", 1: "tokens"},
    "mask_positions": {0: "batch"},
    "soft_positions": {0: "batch"},
    "probabilities": {0: "batch"},
}


class ProbabilityGraph(nn.Module):
    """What the exported graph computes: ids (B, T), attention mask (B, T), segments (B, T), first mask
    position (B,) and soft-token positions (B, S) -> class probabilities (B, C), float32.

    The run's model, then its objective's probabilities, then its calibration (the probabilities divided by
    the stored bias and renormalised, as :func:`promptlearn.run.calibration.apply` does).
    """

    def __init__(self, run: Prompted):
        super().__init__()
        self.model = run.model
        self.objective = run.trainer.objective
        bias = None if run.calibration is None else torch.from_numpy(np.clip(run.calibration, 1e-12, None))
        self.register_buffer("bias", None if bias is None else bias.float(), persistent=False)

    def forward(self, input_ids, attention_mask, token_type_ids, mask_positions, soft_positions=None):
        batch = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": token_type_ids,
            "mask_positions": mask_positions,
        }
        if soft_positions is not None:
            batch["soft_positions"] = soft_positions
        probs = self.objective.probabilities(self.model(batch))  # (B, C)
        if self.bias is not None:
            scaled = probs / self.bias
            probs = scaled / scaled.sum(dim=1, keepdim=True)
        return probs


def check_exportable(run: Prompted, run_dir: Path) -> None:
    """Refuse a run whose prediction is not one fixed graph, saying why and what to do."""
    if run.pvp.shape.choices_are_words:
        raise PromptlearnError(
            f"{run_dir} is a {run.pvp.shape.name} run: each example becomes one input per choice, read at the "
            "choice's own masks, which the exported graph's inputs (one row and one [MASK] per example) cannot hold"
        )
    if run.pvp.demonstrations is not None:
        raise PromptlearnError(
            f"{run_dir} was trained with --demonstrations: each input is predicted with demonstrations drawn "
            "from its train split, averaged over draws, which one ONNX graph of the input cannot hold. "
            "Export a run trained without --demonstrations."
        )
    words = run.model.label_words
    if (
        words is not None
        and words.mask_count > 1
        and (run.model.decoding != "one-pass" or run.model.word_masks != "longest")
    ):
        raise PromptlearnError(
            f"{run_dir} scores its multi-token label words with --decoding {run.model.decoding} / --word-masks "
            f"{run.model.word_masks}: one more encoder pass per filled token, which is not a fixed graph. "
            "Only --decoding one-pass --word-masks longest exports; train the run with those (they are the defaults)."
        )


def export_onnx(run_dir: str | Path, output: str | Path, quantize: str = "none", overwrite: bool = False) -> dict:
    """Write ``run_dir`` as an ONNX folder to ``output``: ``model.onnx``, the tokenizer, ``manifest.json`` (a recipe:
    one such folder per kept member, see :func:`export_recipe`).

    ``quantize='int8'``: the graph's weights dynamically quantized to INT8 (onnxruntime's
    ``quantize_dynamic``), for faster CPU inference at a small cost in agreement. Returns the manifest.
    """
    try:
        import onnx  # noqa: F401  (torch.onnx.export needs it)
        import onnxruntime  # noqa: F401  (write_graph checks the graph with it)
    except ImportError as err:
        raise PromptlearnError(
            f"ONNX export needs onnx and onnxruntime ({err}): pip install 'promptlearn[onnx]'"
        ) from err
    run_dir = Path(run_dir)
    check_output_free(output, overwrite, EXPORT, {"the run": run_dir})
    if is_recipe(run_dir):
        return export_recipe(run_dir, output, quantize, overwrite)
    run = load_run(run_dir)
    with staged_folder(output, overwrite, EXPORT, {"the run": run_dir, "its base model": run.config.model}) as folder:
        return write_graph(run, run_dir, folder, quantize)


def export_recipe(run_dir: Path, output: str | Path, quantize: str, overwrite: bool) -> dict:
    """A recipe (:mod:`promptlearn.run.recipe`) as one folder: each kept member's graph in ``members/<name>/``, and
    a manifest naming them and their weights, whose weighted mean probabilities (in the recipe's label order) are
    the recipe's."""
    recipe = load_recipe(run_dir)
    names = [entry["name"] for entry in kept_entries(json.loads((run_dir / RECIPE_FILE).read_text(encoding="utf-8")))]
    inputs = {"the run": run_dir, "its base model": recipe.config.model}
    with staged_folder(output, overwrite, EXPORT, inputs) as folder:
        for name, run in zip(names, recipe.runs, strict=True):
            (folder / MEMBERS / name).mkdir(parents=True)
            write_graph(run, run_dir / MEMBERS / name, folder / MEMBERS / name, quantize)
        config = recipe.config
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "members": [f"{MEMBERS}/{name}" for name in names],
            "combine": "weighted_mean", "weights": recipe.weights, "labels": recipe.labels,
            "columns": {"text": config.text_column, "text_b": config.text_b_column, "label": config.label_column},
            "run": {"folder": str(run_dir.resolve()), "recipe": RECIPES[0], "base_model": config.model},
        }  # fmt: skip
        write_json_atomic(folder / FILE, manifest)
    return manifest


def write_graph(run: Prompted, run_dir: Path, folder: Path, quantize: str) -> dict:
    """Trace ``run`` (loaded from ``run_dir``) into ``folder``: the graph, the tokenizer and the manifest."""
    import onnxruntime

    check_exportable(run, run_dir)
    run.model.mode.traceable(run.model)
    merge_where_possible(run)
    graph = ProbabilityGraph(run).eval()
    sample = run.pvp.pad(run.pvp.encode(trace_examples(run)))
    names = [name for name in INPUTS if name in sample]
    args = tuple(torch.from_numpy(sample[name]) for name in names)
    with tempfile.TemporaryDirectory() as scratch:
        traced = Path(scratch) / GRAPH
        with torch.no_grad():
            torch.onnx.export(
                graph, args, str(traced), input_names=names, output_names=["probabilities"],
                dynamic_axes={name: DYNAMIC_AXES[name] for name in [*names, "probabilities"]},
                opset_version=OPSET, dynamo=False,
            )  # fmt: skip
        if quantize == "int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            # per output channel, matrix products only (embeddings stay fp32): of a bert-tiny pet run's SST-2
            # test predictions this keeps 99.2 %, per-tensor over every op 99.0 % (nearly untrained: 98.8 / 95.5)
            quantize_dynamic(
                traced,
                folder / GRAPH,
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=["MatMul"],
            )
        else:
            traced.replace(folder / GRAPH)
    run.pvp.tokenizer.save_pretrained(folder)
    session = onnxruntime.InferenceSession(str(folder / GRAPH), providers=["CPUExecutionProvider"])
    manifest = manifest_of(run, run_dir, [i.name for i in session.get_inputs()], quantize)
    write_json_atomic(folder / FILE, manifest)
    return manifest


def merge_where_possible(run: Prompted) -> None:
    """Merge the trained weights into the encoder where the mode can (LoRA's B A into W): one matrix per
    layer instead of two paths. A mode that cannot merge (it trains outside the encoder, or has a head of
    its own) is traced as it is, with the same numbers."""
    with contextlib.suppress(PromptlearnError):
        run.model.mode.merged_backbone(run.model)


def trace_examples(run: Prompted) -> list[Example]:
    """Two inputs of different lengths: the traced batch must hold padding, or an encoder that skips an
    all-ones attention mask would trace without one."""
    pairs = "text_b" in run.pvp.pattern.fields
    texts = ["a", "a " * 8]
    return [Example(text, text_b=text if pairs else None) for text in texts]


def manifest_of(run: Prompted, run_dir: Path, inputs: list[str], quantize: str) -> dict:
    """What the predictor needs of the run, and what says where the graph came from."""
    config, pvp = run.config, run.pvp
    try:
        promptlearn_version = version("promptlearn")
    except PackageNotFoundError:
        promptlearn_version = None
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "graph": GRAPH,
        "inputs": inputs,
        "output": "probabilities",
        "opset": OPSET,
        "precision": "int8" if quantize == "int8" else "fp32",
        "labels": pvp.labels,
        "pattern": pattern_to_json(pvp.pattern),
        "verbalizer": pvp.verbalizer.to_dict() if pvp.verbalizer is not None else None,
        "max_length": pvp.max_length,
        "max_positions": pvp.max_positions,
        "mask_token": pvp.tokenizer.mask_token,
        "columns": {"text": config.text_column, "text_b": config.text_b_column, "label": config.label_column},
        "calibration": None
        if run.calibration is None
        else dict(zip(pvp.labels, map(float, run.calibration), strict=True)),
        "run": {"folder": str(run_dir.resolve()), "mode": config.mode, "base_model": config.model},
        "promptlearn_version": promptlearn_version,
    } | shape_of(run)


def shape_of(run: Prompted) -> dict:
    """The manifest's task shape and its decision rule (multi-label: the threshold), so the predictor writes the
    run's records; nothing for single-label, whose manifests stay as they were."""
    if run.config.task_type is None or run.config.task_type == DEFAULT_SHAPE:
        return {}
    return {"task_type": run.pvp.shape.name, "decision": run.decision}
