"""The commands of ``promptlearn``: each parses its options into a config and calls the library."""

from __future__ import annotations

import functools
import json
import logging
import os
import shlex
import sys
from pathlib import Path

import typer

from promptlearn.bench.config import BenchConfig
from promptlearn.cli.options import MODE_FLAGS, ModeFlagsCommand, given_options, options_from
from promptlearn.data.sampling import LM_BFF_SEEDS
from promptlearn.errors import PromptlearnError
from promptlearn.experiment.grid import PLACEMENT_KEYS, GridOptions
from promptlearn.export.formats import FORMATS, QUANTIZATIONS, export_run, given_once
from promptlearn.export.manifest import is_exported
from promptlearn.multitask.config import MultiTaskOptions
from promptlearn.outputs import RECIPE, to_json
from promptlearn.pet.config import RUN_OPTIONS, PetConfig
from promptlearn.ppt.config import PretrainConfig
from promptlearn.run.config import DEFAULT_MAX_STEPS, RunConfig
from promptlearn.run.evaluate import EVALUATE_OVERRIDES
from promptlearn.run.options import COLUMN_FIELDS
from promptlearn.run.search_options import SEARCH_RUN_OPTIONS, SEARCH_SHOTS, SearchOptions

app = typer.Typer(
    help="Prompt learning for masked language models: PET, soft prompts, P-Tuning v1/v2, PPT and baselines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

THREADS_HELP = (
    "CPU threads for torch (default: OMP_NUM_THREADS, else the cores this process may use; 1 on a busy machine)."
)
MODEL_HELP = "Hugging Face model id or local folder of a masked LM (e.g. ../shared/models/bert-tiny)."
DATA_HELP = "Folder with train/dev/test .jsonl/.csv/.tsv files, a datasets save_to_disk folder, or a Hub dataset name."
PATTERN_HELP = (
    "Cloze pattern: {text}/{text_a}, {text_b}, [MASK], [SOFT], [SOFT:n], [SEP]. "
    "Without an input slot the input goes in front: 'It was [MASK].'"
)
VERBALIZER_HELP = "Label words, inline 'positive=great|good,negative=terrible' or a .yaml/.json file."

#: what evaluate's RunConfig options mean there: zero-shot values, or a run's own overridden
EVALUATE_HELPS = {
    "max_length": "Token budget per example; zero-shot only: a run keeps its own.",
    "calibrate": RunConfig.__dataclass_fields__["calibrate"].metadata["help"]
    + " Zero-shot only: a run applies its own.",
}
#: the default of an option that overrides a run's value
RUNS = dict.fromkeys(("decoding", *COLUMN_FIELDS), "the run's, or {default!r}")
RUN = dict.fromkeys(COLUMN_FIELDS, "the run's")
PREDICT_HELPS = {
    "text_column": "Column (or JSON field) holding the text.",
    "label_column": "Column holding a gold label, if any.",
}


#: the RunConfig options ``show-pattern`` takes, with what each means there
SHOW_OPTIONS = {
    "max_length": "Token budget; shows the truncation.",
    "demonstrations": "Append one demonstration per label, drawn from --data's train.",
    "demonstration_length": "[--demonstrations] Token budget of each demonstration.",
    "seed": "[--demonstrations] Seed of the draw.",
}


def handle_errors(command):
    """Turn a PromptlearnError (or an OSError: a file that cannot be read or written) into a one-paragraph
    message on stderr and exit status 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except PromptlearnError as err:
            typer.echo(f"Error: {err}", err=True)
            raise typer.Exit(2) from None
        except OSError as err:  # a file the command reads or writes outside the checked paths: one line too
            typer.echo(f"Error: {err}. Check the path, its permissions and the free space, then run again.", err=True)
            raise typer.Exit(2) from None

    return wrapper


#: read by transformers / datasets / huggingface_hub when (and only if) they are imported, so a bad
#: pattern or path is reported before any heavy library loads; a value the user set is kept
QUIET_LIBRARIES = {
    "TRANSFORMERS_VERBOSITY": "error",
    "DATASETS_VERBOSITY": "error",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
}


def _quiet_libraries() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # bitsandbytes (the qlora extra; imported by peft) warns at import about an optional CPU kernel we do not use
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    for variable, value in QUIET_LIBRARIES.items():
        os.environ.setdefault(variable, value)
    transformers, datasets = sys.modules.get("transformers"), sys.modules.get("datasets")
    if transformers is not None:  # imported before the command ran (e.g. by a test): too late for the variables
        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
    if datasets is not None:
        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()


@app.callback()
def _setup() -> None:
    _quiet_libraries()


@app.command(cls=ModeFlagsCommand)
@handle_errors
@options_from(RunConfig, into="settings", given_only=True)
@options_from(MultiTaskOptions, into="multitask", given_only=True)
def train(
    ctx: typer.Context,
    model: str = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    data: str = typer.Option(None, "--data", "-d", help=DATA_HELP),
    output: Path = typer.Option(..., "--output", "-o", help="Run folder to write (must be empty or absent)."),
    task: str = typer.Option(None, help="Use this task's preset pattern and verbalizer (see templates/)."),
    pattern: str = typer.Option(None, "--pattern", "-p", help=PATTERN_HELP),
    pattern_id: int = typer.Option(None, help="Which preset pattern of --task (default: its first)."),
    verbalizer: str = typer.Option(None, "--verbalizer", "-v", help=VERBALIZER_HELP),
    mode_opt: list[str] = typer.Option(
        None, "--mode-opt", help="Mode option key=value (repeatable), e.g. r=16; `promptlearn modes NAME` lists them."
    ),
    config: Path = typer.Option(None, help="Re-run a saved config.json; other options except --output are ignored."),
    overwrite: bool = typer.Option(False, help="Replace a non-empty --output folder."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar (terminal) or log lines (elsewhere)."),
    recipe: str = typer.Option(
        None, help="'auto': train the few-shot recipe's members (every pattern of --task) into one run folder."
    ),
    threads: int = typer.Option(None, "--threads", help=THREADS_HELP),
    settings: dict | None = None,
    multitask: dict | None = None,
) -> None:
    """Train a prompt model and write config.json, metrics.json, weights and test predictions to --output.

    Example: promptlearn train --model ../shared/models/bert-tiny --data ../shared/data/sst2
    --pattern "It was [MASK]." --verbalizer "positive=great,negative=terrible" --shots 16 --output runs/sst2
    Several tasks on one model (docs/multitask.md): --tasks sst2,agnews,rte --data-root ../shared/data
    """
    from promptlearn.run.options import check_sources, train_config

    flags = ctx.meta.get(MODE_FLAGS, {})
    if multitask:
        _train_tasks(multitask, model, output, overwrite, quiet, settings, mode_opt, flags, config=config, data=data,
                     task=task, pattern=pattern, pattern_id=pattern_id, verbalizer=verbalizer)  # fmt: skip
        return
    run_config = train_config(config, model, data, task, pattern, pattern_id, verbalizer, settings, mode_opt, flags)
    check_sources(run_config.model, run_config.data, output, overwrite, kind=RECIPE if recipe else None)
    from promptlearn import api
    from promptlearn.training.threads import use_threads

    use_threads(threads)

    if quiet:
        logging.getLogger("promptlearn").setLevel(logging.WARNING)
    if recipe is not None:
        from promptlearn.run.recipe import check_recipe, recipe_patterns

        check_recipe(recipe)
        patterns = recipe_patterns(task, pattern, pattern_id, run_config)
        metrics = api.train_recipe(run_config, patterns, output, overwrite=overwrite)
    else:
        metrics = api.train(run_config, output, overwrite=overwrite)
    summary = {split: metrics[split] for split in ("dev", "test") if split in metrics}
    typer.echo(to_json(summary))
    typer.echo(f"Wrote {output}")


def _train_tasks(given: dict, model, output, overwrite, quiet, settings, pairs, flags, **single) -> None:
    """``train --tasks``: several tasks on one model, one run folder (promptlearn.multitask)."""
    from promptlearn.multitask.config import command_line_run
    from promptlearn.run.config import flag
    from promptlearn.run.options import check_sources

    clashing = {flag(name): value for name, value in single.items()}
    options, configs = command_line_run(given, model, clashing, settings, pairs, flags)
    check_sources(model, None, output, overwrite)
    from promptlearn.multitask.pipeline import train as train_tasks

    if quiet:
        logging.getLogger("promptlearn").setLevel(logging.WARNING)
    metrics = train_tasks(configs, options, output, overwrite=overwrite)
    summary = {name: task_metrics["test"] for name, task_metrics in metrics["tasks"].items()}
    typer.echo(to_json({"test": summary} | ({"sequence": metrics["sequence"]["test"]} if options.sequential else {})))
    typer.echo(f"Wrote {output}")


@app.command("search-verbalizer")
@handle_errors
@options_from(SearchOptions, into="search")
@options_from(RunConfig, into="run", names=SEARCH_RUN_OPTIONS, helps={"seed": "Seed of the few-shot sample."})
def search_verbalizer(
    model: str = typer.Option(..., "--model", "-m", help=MODEL_HELP),
    data: str = typer.Option(..., "--data", "-d", help=DATA_HELP),
    output: Path = typer.Option(..., "--output", "-o", help="Verbalizer file to write (.yaml), for --verbalizer."),
    task: str = typer.Option(None, help="Use this task's preset pattern (and its label order)."),
    pattern: str = typer.Option(None, "--pattern", "-p", help=PATTERN_HELP),
    pattern_id: int = typer.Option(None, help="Which preset pattern of --task (default: its first)."),
    shots: int = typer.Option(
        SEARCH_SHOTS, help="K examples per label for train (candidates) and for dev (the choice)."
    ),
    run: dict | None = None,
    search: dict | None = None,
    overwrite: bool = typer.Option(False, help="Replace an existing --output file."),
) -> None:
    """Search label words on a few-shot split (LM-BFF candidates, PETAL ranking, chosen by zero-shot dev accuracy).

    Reads only the train split (and the dev split when the protocol takes dev from it), never test.
    Example: promptlearn search-verbalizer --model ../shared/models/bert-tiny --data ../shared/data/sst2
    --task sst2 --shots 16 --seed 13 --output words.yaml
    """
    from promptlearn.run.verbalizer_file import search_to_file

    found = search_to_file(model, data, task, pattern, pattern_id, shots, run, search, output, overwrite)
    typer.echo(json.dumps(found, indent=2))
    typer.echo(f"Wrote {output}")


def _formats_help() -> str:
    from promptlearn.ppt.formats import FORMATS

    return "\n\n".join(f"{name}: {cls.summary}" for name, cls in FORMATS.items())


PRETRAIN_HELP = (
    "Pretrain a soft prompt on unlabeled text (PPT, Gu et al. 2022); the model stays frozen.\n\n"
    "The corpus is a text file with one document per line, read as a stream (it may exceed memory) and split "
    "into sentences. Every --heldout-every-th document is held out; held-out accuracy is logged every "
    "--eval-every steps. A checkpoint is written every --checkpoint-every steps: after an interruption, rerun "
    "the same command to continue. --output gets prompt.safetensors (the artifact for `train --mode ppt "
    "--prompt DIR`) and pretrain.json (settings and held-out curve).\n\n"
    "Formats:\n\n{formats}\n\n"
    "Example: promptlearn pretrain-prompt --model ../shared/models/bert-tiny --corpus "
    "../shared/data/unlabeled/corpus.txt --format sentence-pair --prompt-length 16 --output prompts/pair"
)


@app.command("pretrain-prompt", help=PRETRAIN_HELP.format(formats=_formats_help()))
@handle_errors
@options_from(PretrainConfig, into="settings", helps={"model": MODEL_HELP}, kinds={"corpus": Path})
def pretrain_prompt(
    settings: dict,
    output: Path = typer.Option(..., "--output", "-o", help="Folder for the artifact, report and checkpoint."),
    overwrite: bool = typer.Option(False, help="Start over, discarding a checkpoint or finished prompt in --output."),
) -> None:
    from promptlearn.ppt.pretrain import pretrain

    config = PretrainConfig(**settings)
    try:
        report = pretrain(config, output, overwrite=overwrite)
    except KeyboardInterrupt:
        typer.echo(f"Interrupted. Rerun the same command to resume from the last checkpoint in {output}.", err=True)
        raise typer.Exit(130) from None
    typer.echo(to_json({"heldout": report["final_heldout"], "chance": report["heldout_chance"]}))
    typer.echo(f"Wrote {output}")


@app.command()
@handle_errors
@options_from(RunConfig, into="run_options", names=("eval_batch_size",))
@options_from(
    RunConfig, into="overrides", names=EVALUATE_OVERRIDES, given_only=True, helps=EVALUATE_HELPS, fallbacks=RUNS
)
def evaluate(
    run: Path = typer.Option(None, help="A trained run folder (instead of --model/--pattern/--verbalizer)."),
    model: str = typer.Option(None, "--model", "-m", help=MODEL_HELP + " Zero-shot when no --run."),
    data: str = typer.Option(None, "--data", "-d", help=DATA_HELP + " Default: the run's data."),
    split: str = typer.Option("test", help="train, dev or test."),
    task: str = typer.Option(None, help="Preset pattern and verbalizer of this task."),
    pattern: str = typer.Option(None, "--pattern", "-p", help=PATTERN_HELP),
    pattern_id: int = typer.Option(None, help="Which preset pattern of --task."),
    verbalizer: str = typer.Option(None, "--verbalizer", "-v", help=VERBALIZER_HELP),
    overrides: dict | None = None,
    run_options: dict | None = None,
    predictions: Path = typer.Option(None, help="Also write per-example predictions to this .jsonl file."),
    allow_other_base: bool = typer.Option(
        False, help="Load the run onto a base model other than the one it was trained on (same sizes)."
    ),
    threads: int = typer.Option(None, "--threads", help=THREADS_HELP),
) -> None:
    """Accuracy and macro-F1 of a trained run, or of an untrained model zero-shot, on one split.

    Zero-shot example: promptlearn evaluate --model ../shared/models/bert-tiny --data ../shared/data/sst2
    --pattern "It was [MASK]." --verbalizer "positive=good,negative=bad"
    """
    from promptlearn.multitask.loading import task_loader
    from promptlearn.run.evaluate import evaluate as evaluate_on
    from promptlearn.training.threads import use_threads

    use_threads(threads)
    loader = task_loader(run, task)  # one task of a multi-task run folder (--task NAME), else None
    result = evaluate_on(
        run, model, data, split, None if loader else task, pattern, pattern_id, verbalizer, run_options, overrides,
        predictions, allow_other_base, loader,
    )  # fmt: skip
    typer.echo(to_json(result))


@app.command()
@handle_errors
@options_from(RunConfig, into="columns", names=COLUMN_FIELDS, given_only=True, helps=PREDICT_HELPS, fallbacks=RUN)
def predict(
    run: Path = typer.Option(..., help="A trained run folder, or an ONNX export of one."),
    input: Path = typer.Option(None, "--input", "-i", help="A .jsonl/.csv/.tsv file; default: JSON lines on stdin."),
    allow_other_base: bool = typer.Option(
        False, help="Load the run onto a base model other than the one it was trained on (same sizes)."
    ),
    columns: dict | None = None,
    threads: int = typer.Option(None, "--threads", help=THREADS_HELP + " An ONNX export: onnxruntime's threads."),
    task: str = typer.Option(None, help="With a multi-task --run: the task to predict (its pattern and labels)."),
) -> None:
    """Predict labels with a trained run: one JSON line out per input line (text, predicted, probabilities).

    Input lines are JSON objects with the run's text column(s), e.g. {"text": "a fine film"}.
    """
    if is_exported(run):  # an ONNX folder: onnxruntime alone, torch is never imported
        from promptlearn.export.predictor import predict_exported

        records = predict_exported(run, input, columns, allow_other_base, sys.stdin, threads)
    else:
        from promptlearn.multitask.loading import task_loader
        from promptlearn.run.evaluate import predict as predict_with
        from promptlearn.training.threads import use_threads

        use_threads(threads)
        loader = task_loader(run, task)
        if task is not None and loader is None:
            raise PromptlearnError(f"--task {task}: {run} is a single-task run; leave out --task")
        records = predict_with(run, input, columns, allow_other_base, sys.stdin, loader)
    for record in records:
        typer.echo(to_json(record, indent=None))


@app.command()
@handle_errors
@options_from(GridOptions, into="grid", given_only=True)
def fewshot(
    ctx: typer.Context,
    config: Path = typer.Option(None, "--config", "-c", help="Experiment YAML (schema: docs/fewshot.md)."),
    output: str = typer.Option(None, "--output", "-o", help="Experiment folder (run folders, results.jsonl)."),
    report: str = typer.Option(None, help="Also write summary.md, summary.csv and plots/ here."),
    model: str = typer.Option(None, "--model", "-m", help=MODEL_HELP),
    task: str = typer.Option(None, help="Comma-separated preset task names, e.g. sst2,rte."),
    data: str = typer.Option(None, "--data", "-d", help="Comma-separated data folders, one per --task."),
    data_root: str = typer.Option(None, help="Folder holding one data folder per task name."),
    modes: str = typer.Option(None, help="Comma-separated modes; 'zero-shot' evaluates without training."),
    shots: str = typer.Option(None, help="Comma-separated K values (per label), e.g. 8,16,32; 'all' = whole train."),
    seeds: str = typer.Option(None, help=f"Comma-separated seeds (default {','.join(map(str, LM_BFF_SEEDS))})."),
    max_steps: int = typer.Option(
        None, help=f"Optimizer steps per run (default {DEFAULT_MAX_STEPS}; replaces train: epochs)."
    ),
    max_test_examples: int = typer.Option(None, help="Evaluate on a fixed random subset of at most N test examples."),
    cpu_threads: int = typer.Option(
        None, "--cpu-threads", "--threads", help="CPU threads per worker (default: the worker's share of the cores)."
    ),
    report_only: bool = typer.Option(False, help="Only rebuild results.jsonl, summary and plots from finished runs."),
    grid: dict | None = None,
) -> None:
    """Run a few-shot experiment (tasks x modes x K x seeds), resumably, then write summary.md/.csv and plots.

    Example: promptlearn fewshot --model ../shared/models/bert-tiny --task sst2 --data-root ../shared/data
    --modes zero-shot,pet --shots 8,16 --output runs/sst2-fewshot

    Exits 1 when any run failed (after running the others), listing each failure.
    Under `accelerate launch --num_processes N`, the N processes share the grid.
    """
    from promptlearn.experiment.overrides import experiment_from, failed_runs, failure_message, run_and_report

    grid_options = GridOptions(**grid)  # checked before the experiment file is read
    experiment = experiment_from(
        config, model, output, report, task, data, data_root, modes, shots, seeds, max_steps, max_test_examples,
        cpu_threads,
    )  # fmt: skip
    grid_options = GridOptions(**(experiment.grid | grid))  # the file's grid keys, replaced by the flags given
    command = f"promptlearn fewshot {given_options(ctx, skip=('report_only', *PLACEMENT_KEYS))}".strip()
    outcome = run_and_report(experiment, command, report_only, grid_options)
    if outcome is None:  # another process of `accelerate launch`: the main one writes the summary
        typer.echo("This process's runs are done; the main process writes the summary.")
        return
    records, written = outcome
    failed = failed_runs(records)
    typer.echo(f"{len(records)} runs finished ({len(failed)} failed); wrote {', '.join(str(p) for p in written[:2])}")
    if failed and not report_only:
        typer.echo(f"Error: {failure_message(failed, len(records))}", err=True)
        raise typer.Exit(1)


@app.command()
@handle_errors
@options_from(PetConfig, into="options")
@options_from(RunConfig, into="run", names=RUN_OPTIONS, helps=RUN_OPTIONS)
def pet(
    model: str = typer.Option(..., "--model", "-m", help=MODEL_HELP),
    data: str = typer.Option(..., "--data", "-d", help=DATA_HELP),
    output: Path = typer.Option(..., "--output", "-o", help="Pipeline folder; rerun the command to resume."),
    task: str = typer.Option(None, help="Preset task: its patterns (--patterns picks ids) and label words."),
    patterns: str = typer.Option(None, help="Comma-separated preset pattern ids of --task (default: all)."),
    pattern: list[str] = typer.Option(None, "--pattern", "-p", help="A pattern text; repeat for several."),
    verbalizer: str = typer.Option(None, "--verbalizer", "-v", help=VERBALIZER_HELP),
    overwrite: bool = typer.Option(False, help="Start over in a non-empty --output."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
    run: dict | None = None,
    options: dict | None = None,
) -> None:
    """Full PET: a model per pattern x repetition, iPET generations, a classifier distilled on unlabelled data.

    Example: promptlearn pet --model ../shared/models/bert-tiny --data ../shared/data/sst2 --task sst2
    --patterns 0,1,2 --shots 16 --generations 2 --output runs/sst2-pet

    Writes summary.md/summary.json (every component's dev/test metrics) and final/, a run folder for
    `evaluate --run` and `predict`. A killed pipeline resumes where it stopped (docs/pet.md).
    """
    from promptlearn.pet.options import pet_config, split_list
    from promptlearn.run.options import check_sources

    check_sources(model, data)
    config = pet_config(model, data, task, split_list(patterns, int), pattern, verbalizer, run, options)
    if quiet:
        logging.getLogger("promptlearn").setLevel(logging.WARNING)
    from promptlearn.pet.pipeline import run_pipeline

    summary = run_pipeline(config, output, overwrite=overwrite)
    typer.echo((output / "summary.md").read_text(encoding="utf-8"))
    final = summary["rows"][-1]
    typer.echo(f"Wrote {output}" + ("" if "note" in final else f"; the final model is {output / 'final'}"))


@app.command("modes")
@handle_errors
def modes(
    name: str = typer.Argument(None, help="Show this mode's options (for --mode-opt) instead of the list."),
    model: str = typer.Option(None, "--model", "-m", help=MODEL_HELP + " Adds trainable / total parameter counts."),
) -> None:
    """List the training modes: what each trains and its default learning rate per parameter group."""
    from promptlearn.model.modes_table import describe_mode, modes_table

    typer.echo(describe_mode(name) if name is not None else "\n".join(modes_table(model)))


@app.command()
@handle_errors
def export(
    run_arg: Path = typer.Argument(None, metavar="RUN", help="A trained run folder (or --run)."),
    output_arg: Path = typer.Argument(None, metavar="OUTPUT", help="The folder to write (or --output)."),
    run: Path = typer.Option(None, "--run", help="A trained run folder."),
    output: Path = typer.Option(None, "--output", "-o", help="The folder to write."),
    to_format: str = typer.Option(FORMATS[0], "--format", help=f"{' or '.join(FORMATS)}; onnx: see docs/export.md."),
    merge: bool = typer.Option(False, "--merge", help="transformers: merge the trained weights in (required)."),
    quantize: str = typer.Option(QUANTIZATIONS[0], help="onnx: 'int8' quantizes the weights for faster CPU inference."),
    overwrite: bool = typer.Option(False, help="Replace a non-empty output folder."),
) -> None:
    """Write a run as one plain masked-LM folder (e.g. LoRA merged in), or as an ONNX graph to class probabilities.

    Examples: promptlearn export --merge runs/sst2-lora runs/sst2-lora-merged;
    promptlearn export --run runs/sst2 --format onnx --output runs/sst2-onnx --quantize int8
    """
    output = given_once(output_arg, output, "OUTPUT")
    export_run(given_once(run_arg, run, "RUN"), output, to_format, merge, quantize, overwrite)
    typer.echo(f"Wrote {output}")


@app.command("show-pattern")
@handle_errors
@options_from(RunConfig, into="run", names=SHOW_OPTIONS, helps=SHOW_OPTIONS)
def show_pattern(
    model: str = typer.Option(..., "--model", "-m", help=MODEL_HELP + " Only its tokenizer is loaded."),
    text: str = typer.Option("The movie was a delight.", help="The example's text (unless --data is given)."),
    text_b: str = typer.Option(None, help="Second text, for pair patterns."),
    data: str = typer.Option(None, "--data", "-d", help=DATA_HELP + " Renders one of its examples."),
    split: str = typer.Option("train", help="The --data split to take the example from."),
    index: int = typer.Option(0, min=0, help="Which example of --split (0 = the first)."),
    task: str = typer.Option(None, help="Use this preset's pattern and label words (a name from templates/)."),
    pattern: str = typer.Option(None, "--pattern", "-p", help=PATTERN_HELP),
    pattern_id: int = typer.Option(None, help="Which preset pattern of --task."),
    verbalizer: str = typer.Option(None, "--verbalizer", "-v", help=VERBALIZER_HELP),
    run: dict | None = None,
) -> None:
    """Show how one example is rendered and tokenized: tokens, the [MASK] position, label-word ids.

    With --data, the example is one of the dataset's (--split, --index), and the label words are checked
    against the dataset's labels.
    """
    from promptlearn.backbone.loading import load_tokenizer
    from promptlearn.prompt.show import show_pattern as render

    lines = render(
        lambda: load_tokenizer(model), text, text_b, data, split, index, task, pattern, pattern_id, verbalizer, **run
    )
    typer.echo("\n".join(lines))


@app.command()
@handle_errors
@options_from(BenchConfig, into="settings", helps={"model": MODEL_HELP}, kinds={"eval_data": Path, "train_data": Path})
def bench(
    settings: dict,
    task: str = typer.Option("sst2", help="Preset pattern and verbalizer (see templates/)."),
    pattern: str = typer.Option(None, "--pattern", "-p", help=PATTERN_HELP),
    verbalizer: str = typer.Option(None, "--verbalizer", "-v", help=VERBALIZER_HELP),
    json_out: Path = typer.Option(None, "--json", help="Write the full report (every figure, machine, versions) here."),
    markdown_out: Path = typer.Option(None, "--markdown", help="Write the markdown tables here."),
) -> None:
    """Training/evaluation throughput and peak memory of every mode against hand-written loops (naive, plain).

    Each configuration runs in a fresh process. Example (CPU, a few minutes):
    promptlearn bench --model ../shared/models/bert-tiny --eval-data ../shared/data/sst2/test.jsonl
    """
    from promptlearn.bench import run_benchmark, to_markdown
    from promptlearn.outputs import write_json_atomic, write_text_atomic
    from promptlearn.prompt.presets import resolve_prompt

    pattern_text, words = resolve_prompt(task, pattern, None, verbalizer)
    config = BenchConfig(**settings, pattern=pattern_text, verbalizer=words)
    report = run_benchmark(config, command=shlex.join(["promptlearn", *sys.argv[1:]]))
    table = to_markdown(report)
    if json_out is not None:
        write_json_atomic(json_out, report)
    if markdown_out is not None:
        write_text_atomic(markdown_out, table)
    typer.echo(table)
