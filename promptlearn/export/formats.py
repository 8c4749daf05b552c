"""``promptlearn export``: which format a run is written in, and the command's checks before any model loads.

Torch-free (the command line reads :data:`FORMATS` and :data:`QUANTIZATIONS` for its options); each format's
writer is imported when asked for.
"""

from __future__ import annotations

from pathlib import Path

from promptlearn.errors import PromptlearnError

#: ``--format``: a plain transformers masked-LM folder (the trained weights merged in), or an ONNX graph
FORMATS = ("transformers", "onnx")
#: ``--quantize`` (ONNX only): fp32 weights, or weights dynamically quantized to INT8
QUANTIZATIONS = ("none", "int8")


def given_once(positional: Path | None, option: Path | None, name: str) -> Path:
    """The folder given as ``name`` (positionally) or as ``--name`` (as ``predict`` takes ``--run``): exactly once."""
    if positional is not None and option is not None:
        raise PromptlearnError(f"Give the {name.lower()} folder once: as {name} or as --{name.lower()}, not both")
    if positional is None and option is None:
        raise PromptlearnError(f"Give the {name.lower()} folder: export RUN OUTPUT, or --run RUN --output OUTPUT")
    return positional if positional is not None else option


def export_run(run: Path, output: Path, format: str, merge: bool, quantize: str, overwrite: bool) -> None:
    """Write the trained ``run`` to ``output`` in ``format`` (see :data:`FORMATS`)."""
    if format not in FORMATS:
        raise PromptlearnError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    if quantize not in QUANTIZATIONS:
        raise PromptlearnError(f"--quantize must be one of {', '.join(QUANTIZATIONS)}, got {quantize!r}")
    if format == "onnx":
        from promptlearn.export.onnx_export import export_onnx

        export_onnx(run, output, quantize, overwrite)
        return
    if quantize != QUANTIZATIONS[0]:
        raise PromptlearnError("--quantize applies to --format onnx only")
    if not merge:
        raise PromptlearnError("export --format transformers writes merged models only for now: pass --merge")
    from promptlearn.run.folder import export_merged
    from promptlearn.run.recipe import is_recipe

    if is_recipe(run):
        raise PromptlearnError(
            f"{run} is a recipe of several models, which no single transformers folder holds: export it with "
            "--format onnx (one graph per member, averaged by `predict`)"
        )

    export_merged(run, output, overwrite=overwrite)
