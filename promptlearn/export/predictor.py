"""Predicting with an exported ONNX folder through onnxruntime alone: no torch is imported on this path.

Text becomes ids through the run's own :class:`~promptlearn.prompt.pvp.PVP`, rebuilt from the manifest with
the saved tokenizer (loaded as a plain ``tokenizers``-backed transformers tokenizer, which needs no torch),
so the graph sees exactly the ids the run would; the records are those of ``predict`` on the run folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

import numpy as np

from promptlearn.data.examples import Columns, Example, prediction_record, read_inputs
from promptlearn.errors import PromptlearnError
from promptlearn.export.manifest import pattern_from_json, read_manifest
from promptlearn.prompt.pvp import PVP
from promptlearn.prompt.verbalizer import Verbalizer
from promptlearn.run.ensemble import weighted_mean
from promptlearn.run.options import with_columns
from promptlearn.tasks import get_shape

#: examples per call of the graph; sorted by length first, so each batch pads little
BATCH_SIZE = 32


class OnnxPredictor:
    """An exported folder, loaded: its manifest, PVP and onnxruntime session.

    ``threads``: onnxruntime's intra-op threads (None: its default, every core).
    """

    def __init__(self, folder: str | Path, threads: int | None = None):
        try:
            import onnxruntime
            from transformers import PreTrainedTokenizerFast
        except ImportError as err:
            raise PromptlearnError(
                f"Predicting with an ONNX export needs onnxruntime ({err}): pip install 'promptlearn[onnx]'"
            ) from err
        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder)
        manifest = self.manifest
        tokenizer = PreTrainedTokenizerFast.from_pretrained(self.folder)
        words = manifest["verbalizer"]
        verbalizer = Verbalizer.from_dict(words) if words is not None else None
        pattern = pattern_from_json(manifest["pattern"])
        shape = get_shape(manifest.get("task_type"))
        labels = manifest["labels"]
        self.pvp = PVP(pattern, verbalizer, tokenizer, max_length=manifest["max_length"], labels=labels, shape=shape)
        #: the task shape's decision rule fitted on dev (multi-label: the threshold), None when it has none
        self.decision = manifest.get("decision")
        self.pvp.max_positions = manifest["max_positions"]
        options = onnxruntime.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        self.session = onnxruntime.InferenceSession(
            str(self.folder / manifest["graph"]), options, providers=["CPUExecutionProvider"]
        )
        self.inputs = [i.name for i in self.session.get_inputs()]

    @property
    def labels(self) -> list[str]:
        return self.pvp.labels

    def predict_proba(self, examples: list[Example], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Class probabilities (N, C) float32, calibrated where the run was (the graph folds it in)."""
        probs = np.zeros((len(examples), len(self.labels)), dtype=np.float32)
        if not examples:
            return probs
        encoded = self.pvp.encode(examples)
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].input_ids))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            arrays = self.pvp.pad([encoded[i] for i in chunk])
            probs[chunk] = self.session.run(None, {name: arrays[name] for name in self.inputs})[0]
        return probs

    def predict(self, examples: list[Example]) -> list[dict]:
        """One record per example, as ``predict`` writes them (the run's task shape): text, gold, prediction,
        probabilities."""
        return [
            self.pvp.shape.record(ex, self.labels, row, self.decision)
            for ex, row in zip(examples, self.predict_proba(examples), strict=True)
        ]


class OnnxEnsemble:
    """An exported recipe: its members' :class:`OnnxPredictor` folders, whose weighted mean probabilities (weights:
    ``manifest.json``'s ``weights``; equal in an export from before them) it reports in the recipe's label order
    (``manifest.json``'s ``labels``)."""

    def __init__(self, folder: str | Path, threads: int | None = None):
        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder)
        self.members = [OnnxPredictor(self.folder / member, threads) for member in self.manifest["members"]]
        self.pvp = self.members[0].pvp

    @property
    def labels(self) -> list[str]:
        return self.manifest["labels"]

    def predict_proba(self, examples: list[Example], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """The weighted mean of the members' probabilities (N, C), each read in the recipe's label order."""
        probs = [
            member.predict_proba(examples, batch_size)[:, [member.labels.index(label) for label in self.labels]]
            for member in self.members
        ]
        return weighted_mean(probs, self.manifest.get("weights", [1.0] * len(probs)))

    def predict(self, examples: list[Example]) -> list[dict]:
        return [
            prediction_record(ex, self.labels, row)
            for ex, row in zip(examples, self.predict_proba(examples), strict=True)
        ]


def open_predictor(folder: str | Path, threads: int | None = None) -> OnnxPredictor | OnnxEnsemble:
    """The predictor of an exported folder: one graph, or a recipe's members."""
    return OnnxEnsemble(folder, threads) if "members" in read_manifest(folder) else OnnxPredictor(folder, threads)


def predict_exported(
    folder: Path, input: Path | None, columns: dict, allow_other_base: bool, stdin: TextIO, threads: int | None = None
) -> list[dict]:
    """``promptlearn predict --run FOLDER`` on an exported folder: records for ``input`` (a data file) or the JSON
    lines on ``stdin``; ``columns``: the column fields given over the run's; ``threads``: onnxruntime's."""
    if allow_other_base:
        raise PromptlearnError(
            f"{folder} is an ONNX export, which holds its whole model: --allow-other-base has nothing to load onto"
        )
    if input is not None and not input.is_file():
        raise PromptlearnError(f"Input file {input} does not exist")
    predictor = open_predictor(folder, threads)
    names = with_columns(Columns(**predictor.manifest["columns"]), columns)
    pairs = "text_b" in predictor.pvp.pattern.fields
    return predictor.predict(read_inputs(input, stdin, names, pairs))
