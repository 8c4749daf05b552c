"""The manifest of an exported ONNX folder: what the predictor needs to turn text into the graph's inputs.

``manifest.json`` holds the labels, the pattern as parsed segments (a mode may have changed the pattern the
user wrote, e.g. soft tokens added in front; a head mode's input-only pattern has no ``[MASK]`` and would not
parse again), the label words, the token budget, the graph's inputs and how the run was made. Torch-free:
the predictor reads it.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from promptlearn.errors import PromptlearnError
from promptlearn.prompt.pattern import Literal, Mask, Pattern, Sep, Slot, Soft

FILE = "manifest.json"
#: the graph's file in an exported folder
GRAPH = "model.onnx"
FORMAT = "onnx"
#: what a manifest's ``format_version`` says; a predictor refuses one it does not know
FORMAT_VERSION = 1
SEGMENTS = {kind.__name__: kind for kind in (Literal, Slot, Mask, Soft, Sep)}


def pattern_to_json(pattern: Pattern) -> dict:
    """The pattern as JSON: its source and each segment as ``{"kind": ..., **fields}``."""
    segments = [{"kind": type(s).__name__, **dataclasses.asdict(s)} for s in pattern.segments]
    return {"source": pattern.source, "segments": segments}


def pattern_from_json(data: dict) -> Pattern:
    """The :class:`Pattern` :func:`pattern_to_json` wrote, segment for segment."""
    segments = tuple(SEGMENTS[s["kind"]](**{k: v for k, v in s.items() if k != "kind"}) for s in data["segments"])
    return Pattern(source=data["source"], segments=segments)


def is_exported(folder: str | Path) -> bool:
    """Whether ``folder`` is an exported ONNX folder (it has a manifest), rather than a run folder."""
    return (Path(folder) / FILE).is_file()


def read_manifest(folder: str | Path) -> dict:
    """The manifest of the exported folder ``folder``, checked to be one this version can run."""
    path = Path(folder) / FILE
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise PromptlearnError(f"{path} cannot be read as JSON ({err}): export the run again") from err
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise PromptlearnError(
            f"{path} is not an ONNX export this promptlearn can run (format {manifest.get('format')!r}, "
            f"version {manifest.get('format_version')!r}; expected {FORMAT!r}, {FORMAT_VERSION}): export the run again"
        )
    if "members" in manifest:  # a recipe's export: each member a folder of its own (promptlearn.run.recipe)
        for member in manifest["members"]:
            read_manifest(Path(folder) / member)
        return manifest
    if not (Path(folder) / manifest["graph"]).is_file():
        raise PromptlearnError(f"{folder} has no {manifest['graph']}: the export did not finish; export the run again")
    return manifest
