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
from promptlearn.cli.options import MODE_FLAGS, ModeFlagsCommand, options_from
from promptlearn.errors import PromptlearnError
from promptlearn.outputs import to_json
from promptlearn.pet.config import RUN_OPTIONS, PetConfig
from promptlearn.ppt.config import PretrainConfig
from promptlearn.run.config import RunConfig
from promptlearn.run.search_options import SEARCH_RUN_OPTIONS, SEARCH_SHOTS, SearchOptions

app = typer.Typer(
    help="Prompt learning for masked language models: PET, soft prompts, P-Tuning v1/v2, PPT and baselines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

MODEL_HELP = "Hugging Face model id or local folder of a masked LM (e.g. ../shared/models/bert-tiny)."
DATA_HELP = "Folder with train/dev/test .jsonl/.csv/.tsv files, a datasets save_to_disk folder, or a Hub dataset name."
PATTERN_HELP = (
    "Cloze pattern: {text}/{text_a}, {text_b}, [MASK], [SOFT], [SOFT:n], [SEP]. "
    "Without an input slot the input goes in front: 'It was [MASK].'"
)
VERBALIZER_HELP = "Label words, inline 'positive=great|good,negative=terrible' or a .yaml/.json file."
CALIBRATE_HELP = "Divide out the prompt's label bias: none, content-free (N/A, empty, [MASK]) or unlabeled."


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


def _mode_options(mode: str, pairs: list[str] | None, **values) -> dict:
    """The per-mode flags that were given, plus ``--mode-opt key=value`` pairs typed for ``mode``.

    The modes (and so torch) are imported only when there are pairs to type, so that without
    ``--mode-opt`` a bad pattern or path is still reported before torch loads.
    """
    flags = {key: value for key, value in values.items() if value is not None}
    if not pairs:
        return flags
    from promptlearn.modes import get_mode
    from promptlearn.modes.options import parse_mode_options

    extra = parse_mode_options(get_mode(mode), pairs)
    both = sorted(set(flags) & set(extra))
    if both:
        raise PromptlearnError(f"{', '.join(both)} given both as a flag and as --mode-opt; give it once")
    return flags | extra


def _check_sources(model: str | None, data: str | None, output: Path | None = None, overwrite: bool = False) -> None:
    """The checks that need no model or data library (so they fail at once): paths and the output folder."""
    from promptlearn.data.files import find_splits
    from promptlearn.hub import check_local_model
    from promptlearn.outputs import check_output_free, check_writable

    if model is not None:
        check_local_model(model)
    if data is not None:
        find_splits(data)
    if output is not None:
        check_output_free(output, overwrite, inputs={"--model": model, "--data": data})
        check_writable(output)


def _columns(base, text: str | None, text_b: str | None, label: str | None):
    """``base`` (a :class:`promptlearn.data.examples.Columns`) with the columns given on the command line."""
    import dataclasses

    given = {"text": text, "text_b": text_b, "label": label}
    return dataclasses.replace(base, **{key: value for key, value in given.items() if value is not None})


@app.command(cls=ModeFlagsCommand)
@handle_errors
@options_from(RunConfig, into="settings", given_only=True)
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
    settings: dict | None = None,
) -> None:
    """Train a prompt model and write config.json, metrics.json, weights and test predictions to --output.

    Example: promptlearn train --model ../shared/models/bert-tiny --data ../shared/data/sst2
    --pattern "It was [MASK]." --verbalizer "positive=great,negative=terrible" --shots 16 --output runs/sst2
    """
    from promptlearn.prompt.presets import resolve_prompt

    if config is not None:
        run_config = RunConfig.load(config)
    else:
        if model is None or data is None:
            raise PromptlearnError("Give --model and --data (or --config with a saved config.json)")
        search = verbalizer == "auto"  # label words searched on the run's own train/dev split
        pattern_text, words = resolve_prompt(task, pattern, pattern_id, None if search else verbalizer)
        mode = settings.get("mode", RunConfig.mode)
        run_config = RunConfig(
            model=model, data=data, pattern=pattern_text, verbalizer=words, task=task, pattern_id=pattern_id,
            **settings, verbalizer_search={} if search else None,
            mode_options=_mode_options(mode, mode_opt, **ctx.meta.get(MODE_FLAGS, {})),
        )  # fmt: skip
    if run_config.working_dir is not None:  # a saved config's relative paths count from its working_dir
        run_config = run_config.anchored()
    _check_sources(run_config.model, run_config.data, output, overwrite)
    from promptlearn import api

    if quiet:
        logging.getLogger("promptlearn").setLevel(logging.WARNING)
    metrics = api.train(run_config, output, overwrite=overwrite)
    summary = {split: metrics[split] for split in ("dev", "test") if split in metrics}
    typer.echo(to_json(summary))
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
    import yaml

    from promptlearn import api
    from promptlearn.backbone.loading import load_backbone
    from promptlearn.data.examples import load_task_data
    from promptlearn.outputs import write_text_atomic
    from promptlearn.prompt.presets import resolve_prompt
    from promptlearn.run.config import RunConfig

    if output.exists() and not overwrite:
        raise PromptlearnError(f"{output} exists; pass --overwrite to replace it")
    pattern_text, words = resolve_prompt(task, pattern, pattern_id, None)
    config = RunConfig(
        model=model, data=data, pattern=pattern_text, verbalizer=words, task=task, pattern_id=pattern_id, shots=shots,
        **run, verbalizer_search=search,
    )  # fmt: skip
    task_data = load_task_data(data, api.columns_of(config))
    train_examples, dev_examples = api.few_shot_split(config, task_data)
    result = api.search_label_words(config, task_data, train_examples, dev_examples, load_backbone(model))
    header = (
        f"# Label words searched by promptlearn search-verbalizer on {data} (K={shots}, seed {config.seed},\n"
        f"# {len(train_examples)} train / {len(dev_examples)} dev examples), pattern {pattern_text!r}.\n"
        f"# Zero-shot dev accuracy {result.dev_accuracy:.4f}, train accuracy {result.train_accuracy:.4f}.\n"
    )
    write_text_atomic(output, header + yaml.safe_dump(result.verbalizer.to_dict(), allow_unicode=True, sort_keys=False))
    typer.echo(json.dumps({"verbalizer": result.verbalizer.to_dict(), **result.report()}, indent=2))
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
def evaluate(
    run: Path = typer.Option(None, help="A trained run folder (instead of --model/--pattern/--verbalizer)."),
    model: str = typer.Option(None, "--model", "-m", help=MODEL_HELP + " Zero-shot when no --run."),
    data: str = typer.Option(None, "--data", "-d", help=DATA_HELP + " Default: the run's data."),
    split: str = typer.Option("test", help="train, dev or test."),
    task: str = typer.Option(None, help="Preset pattern and verbalizer of this task."),
    pattern: str = typer.Option(None, "--pattern", "-p", help=PATTERN_HELP),
    pattern_id: int = typer.Option(None, help="Which preset pattern of --task."),
    verbalizer: str = typer.Option(None, "--verbalizer", "-v", help=VERBALIZER_HELP),
    max_length: int = typer.Option(None, help="Token budget per example (zero-shot; default 128)."),
    run_options: dict | None = None,
    decoding: str = typer.Option(None, help="Multi-token words: one-pass, exact or confident; default: the run's."),
    predictions: Path = typer.Option(None, help="Also write per-example predictions to this .jsonl file."),
    calibrate: str = typer.Option(None, help=CALIBRATE_HELP + " Zero-shot only: a run applies its own."),
    allow_other_base: bool = typer.Option(
        False, help="Load the run onto a base model other than the one it was trained on (same sizes)."
    ),
    text_column: str = typer.Option(None, help="Column holding the (first) text (default: the run's, or 'text')."),
    text_b_column: str = typer.Option(None, help="Column holding the second text (default: the run's, or 'text_b')."),
    label_column: str = typer.Option(None, help="Column holding the label (default: the run's, or 'label')."),
) -> None:
    """Accuracy and macro-F1 of a trained run, or of an untrained model zero-shot, on one split.

    Zero-shot example: promptlearn evaluate --model ../shared/models/bert-tiny --data ../shared/data/sst2
    --pattern "It was [MASK]." --verbalizer "positive=good,negative=bad"
    """
    from promptlearn.prompt.presets import resolve_prompt
    from promptlearn.run.config import RunConfig

    if run is not None:
        given = {"--model": model, "--task": task, "--pattern": pattern, "--pattern-id": pattern_id,
                 "--verbalizer": verbalizer, "--max-length": max_length, "--calibrate": calibrate}  # fmt: skip
        clashing = [name for name, value in given.items() if value is not None]
        if clashing:
            raise PromptlearnError(
                f"{', '.join(clashing)} cannot be combined with --run: a run is evaluated with the base model, "
                f"pattern and label words it was trained with ({run / 'config.json'}). Leave out "
                f"{', '.join(clashing)}, or leave out --run to evaluate a model zero-shot."
            )
        _check_sources(None, data)
        from promptlearn import api

        prompted = api.load_run(run, allow_other_base)
        config = prompted.config
    else:
        if model is None or data is None:
            raise PromptlearnError("Give --run (a trained run folder), or --model and --data for zero-shot")
        pattern_text, words = resolve_prompt(task, pattern, pattern_id, verbalizer)
        if words is None:
            raise PromptlearnError("Zero-shot evaluation needs label words: give --verbalizer or --task")
        config = RunConfig(
            model=model, data=data, pattern=pattern_text, verbalizer=words, task=task, pattern_id=pattern_id,
            **run_options, calibrate=calibrate or "none",
            **({} if max_length is None else {"max_length": max_length}),
        )  # fmt: skip
        _check_sources(model, data)
        from promptlearn import api
    from promptlearn.data.examples import load_task_data

    columns = _columns(api.columns_of(config), text_column, text_b_column, label_column)
    task_data = load_task_data(data or config.data, columns)
    if run is None:
        prompted = api.build(config, task_data)
        api.calibrate(prompted, task_data.splits.get("train", []))
    else:
        prompted.pvp.check_fields(task_data)
    if decoding is not None:
        prompted.model.decoding = config.replace(decoding=decoding).decoding  # replace() validates it
    examples = task_data.split(split)
    if any(ex.label is None for ex in examples):
        raise PromptlearnError(f"The {split!r} split has unlabelled examples: evaluation needs a label on every one")
    records = prompted.predict(examples)
    if predictions is not None:
        api.write_predictions(predictions, records)
    result = api.metrics_of(records, prompted.pvp.labels)
    typer.echo(to_json({"split": split, "examples": len(examples), **result}))


@app.command()
@handle_errors
def predict(
    run: Path = typer.Option(..., help="A trained run folder."),
    input: Path = typer.Option(None, "--input", "-i", help="A .jsonl/.csv/.tsv file; default: JSON lines on stdin."),
    allow_other_base: bool = typer.Option(
        False, help="Load the run onto a base model other than the one it was trained on (same sizes)."
    ),
    text_column: str = typer.Option(None, help="Column (or JSON field) holding the text (default: the run's)."),
    text_b_column: str = typer.Option(None, help="Column holding the second text (default: the run's)."),
    label_column: str = typer.Option(None, help="Column holding a gold label, if any (default: the run's)."),
) -> None:
    """Predict labels with a trained run: one JSON line out per input line (text, predicted, probabilities).

    Input lines are JSON objects with the run's text column(s), e.g. {"text": "a fine film"}.
    """
    if input is not None and not input.is_file():
        raise PromptlearnError(f"Input file {input} does not exist")
    from promptlearn import api
    from promptlearn.data.examples import load_examples, parse_examples

    prompted = api.load_run(run, allow_other_base)
    columns = _columns(api.columns_of(prompted.config), text_column, text_b_column, label_column)
    pairs = "text_b" in prompted.pvp.pattern.fields
    if input is not None:
        examples = load_examples(input, columns, pairs)
    else:
        examples = parse_examples(sys.stdin.read(), "stdin", columns, pairs)
    if not examples:
        raise PromptlearnError("No input examples: pass --input FILE or JSON lines on stdin")
    for record in prompted.predict(examples):
        typer.echo(to_json(record, indent=None))


def _split(values: str | None, cast=str) -> list | None:
    return None if values is None else [cast(v.strip()) for v in values.split(",") if v.strip()]


def _shot_value(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def _given_options(ctx: typer.Context, skip: tuple[str, ...] = ()) -> str:
    """The options typed on the command line (except ``skip``), to state in the report how it was made."""
    parts = []
    for param in ctx.command.params:
        if param.name in skip:
            continue
        source = ctx.get_parameter_source(param.name)
        if source is None or source.name != "COMMANDLINE":  # typer may vendor click: compare by name
            continue
        value = ctx.params[param.name]
        if isinstance(value, bool):
            parts.append(param.opts[0] if value else param.secondary_opts[0])
        else:
            parts += [param.opts[0], shlex.quote(str(value))]
    return " ".join(parts)


@app.command()
@handle_errors
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
    seeds: str = typer.Option(None, help="Comma-separated seeds (default 13,21,42,87,100)."),
    max_steps: int = typer.Option(None, help="Optimizer steps per run (default 250; replaces train: epochs)."),
    max_test_examples: int = typer.Option(None, help="Evaluate on a fixed random subset of at most N test examples."),
    cpu_threads: int = typer.Option(None, help="torch CPU threads (1 is fastest on a busy or 2-core machine)."),
    retry_failed: bool = typer.Option(True, "--retry-failed/--keep-failed", help="Re-run failed runs on restart."),
    report_only: bool = typer.Option(False, help="Only rebuild results.jsonl, summary and plots from finished runs."),
    workers: int = typer.Option(1, min=1, help="Processes sharing the grid on this machine (one run each at a time)."),
) -> None:
    """Run a few-shot experiment (tasks x modes x K x seeds), resumably, then write summary.md/.csv and plots.

    Example: promptlearn fewshot --model ../shared/models/bert-tiny --task sst2 --data-root ../shared/data
    --modes zero-shot,pet --shots 8,16 --output runs/sst2-fewshot

    Exits 1 when any run failed (after running the others), listing each failure.
    Under `accelerate launch --num_processes N`, the N processes share the grid.
    """
    from promptlearn.experiment import Experiment, run_experiment, write_report
    from promptlearn.experiment.runner import collect_records

    overrides = {
        "model": model, "output": output, "report": report, "data_root": data_root,
        "modes": _split(modes), "shots": _split(shots, _shot_value), "seeds": _split(seeds, int),
        "max_test_examples": max_test_examples, "cpu_threads": cpu_threads,
    }  # fmt: skip
    overrides = {key: value for key, value in overrides.items() if value is not None}
    tasks, folders = _split(task), _split(data)
    if folders is not None:
        if tasks is None or len(tasks) != len(folders):
            raise PromptlearnError("Give one --data folder per --task name, in the same order")
        overrides["tasks"] = [{"name": t, "data": d} for t, d in zip(tasks, folders, strict=True)]
    elif tasks is not None:
        overrides["tasks"] = tasks
    if config is not None:
        source = Experiment.load(config)
        values = source.source | overrides
    else:
        values = overrides
    if max_steps is not None:  # the flag replaces the file's training length, whichever it was
        train = {k: v for k, v in (values.get("train") or {}).items() if k != "epochs"}
        values["train"] = train | {"max_steps": max_steps}
    experiment = Experiment.from_dict(values, origin=str(config or "command line"))
    if report_only:
        records = collect_records(experiment)
    else:
        records = run_experiment(experiment, retry_failed=retry_failed, workers=workers)
        if records is None:  # another process of `accelerate launch`: the main one writes the summary
            typer.echo("This process's runs are done; the main process writes the summary.")
            return
    command = f"promptlearn fewshot {_given_options(ctx, skip=('report_only', 'workers'))}".strip()
    written = write_report(experiment, records, command)
    failed = [r for r in records if r["status"] != "ok"]
    typer.echo(f"{len(records)} runs finished ({len(failed)} failed); wrote {', '.join(str(p) for p in written[:2])}")
    if failed and not report_only:
        lines = [f"  {r['run_id']}: {r['error'].splitlines()[0][:200]}" for r in failed]
        typer.echo(f"Error: {len(failed)} of {len(records)} runs failed:\n" + "\n".join(lines), err=True)
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
    from promptlearn.pet.options import pet_config

    _check_sources(model, data)
    config = pet_config(model, data, task, _split(patterns, int), pattern, verbalizer, run, options)
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
    from promptlearn.model.modes_table import count_parameters, default_learning_rates, describe_mode
    from promptlearn.modes import MODES

    if name is not None:
        typer.echo(describe_mode(name))
        return

    counts = count_parameters(model) if model else {}
    rows = [("mode", "default lr", *(("trainable", "total") if model else ()), "description")]
    for name in sorted(MODES):
        rates = default_learning_rates(MODES[name])
        extra = tuple(f"{n:,}" if isinstance(n, int) else n for n in counts[name]) if model else ()
        rows.append((name, rates, *extra, MODES[name].description))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])


@app.command()
@handle_errors
def export(
    run: Path = typer.Argument(..., help="A trained run folder."),
    output: Path = typer.Argument(..., help="Folder to write the plain transformers model and tokenizer to."),
    merge: bool = typer.Option(False, "--merge", help="Merge the trained weights into the base model (required)."),
    overwrite: bool = typer.Option(False, help="Replace a non-empty output folder."),
) -> None:
    """Write a run as one plain masked-LM folder that AutoModelForMaskedLM loads (e.g. LoRA merged in).

    Example: promptlearn export --merge runs/sst2-lora runs/sst2-lora-merged
    """
    from promptlearn import api

    if not merge:
        raise PromptlearnError("export writes merged models only for now: pass --merge")
    api.export_merged(run, output, overwrite=overwrite)
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
    from promptlearn.data.examples import Example, load_task_data
    from promptlearn.prompt.pattern import Pattern
    from promptlearn.prompt.presets import available_tasks, resolve_prompt
    from promptlearn.prompt.pvp import PVP
    from promptlearn.prompt.verbalizer import Verbalizer

    if pattern is None and task is None:
        raise PromptlearnError(
            "Give --pattern (e.g. '{text} It was [MASK] .'), or --task with a preset's name "
            f"({', '.join(available_tasks())}) to show that preset's pattern and label words"
            + ("; --data only supplies the example" if data else "")
        )
    max_length, demonstrations = run["max_length"], run["demonstrations"]
    demonstration_length, seed = run["demonstration_length"], run["seed"]
    pattern_text, words = resolve_prompt(task, pattern, pattern_id, verbalizer)
    parsed = Pattern.parse(pattern_text)
    verbal = Verbalizer.from_dict(words) if words else None
    example, labels = Example(text, text_b), ["?"]
    task_data = None
    if data is not None:
        task_data = load_task_data(data)
        examples = task_data.split(split)
        if index >= len(examples):
            raise PromptlearnError(f"--index {index} is past the end: the {split!r} split has {len(examples)} examples")
        example, labels = examples[index], task_data.labels
    pvp = PVP(parsed, verbal, load_tokenizer(model), max_length=max_length, labels=None if verbal else labels)
    if task_data is not None:
        pvp.check_data(task_data)
    if demonstrations:
        from promptlearn.prompt.demonstrations import Demonstrations

        if task_data is None:
            raise PromptlearnError("--demonstrations draws them from the training examples: give --data")
        pvp.demonstrations = Demonstrations(task_data.split("train"), length=demonstration_length, seed=seed)
        pvp.demonstrations.check(pvp, None)
    encoded = pvp.encode([Example(example.text_a, example.text_b)])[0]
    tokens = pvp.tokens(encoded)
    typer.echo(f"pattern:  {pattern_text}")
    if data is not None:
        typer.echo(f"example:  {data} [{split}] #{index}, label {example.label!r}")
    budget = f" + {len(pvp.labels)} demonstrations x {demonstration_length}" if demonstrations else ""
    typer.echo(f"tokens:   {len(tokens)} (max {max_length}{budget})")
    typer.echo("  ".join(f"{i}:{tok}" for i, tok in enumerate(tokens)))
    masks = range(encoded.mask_position, encoded.mask_position + pvp.mask_count)
    typer.echo(f"[MASK] at position{'s' if len(masks) > 1 else ''} {', '.join(map(str, masks))}")
    if pvp.mask_count > 1:
        typer.echo(f"  {pvp.mask_count} masks, the longest label word's tokens; shorter words read the first ones")
    if encoded.soft_positions:
        typer.echo(f"[SOFT] at positions {encoded.soft_positions}")
    if verbal:
        tokens_of = pvp.tokenizer.convert_ids_to_tokens
        for (label, label_words), words in zip(verbal.label_words, pvp.label_word_tokens, strict=True):
            shown = ", ".join(
                f"{w} -> {ids[0]}" if len(ids) == 1 else f"{w} -> {ids} {tokens_of(ids)}"
                for w, ids in zip(label_words, words, strict=True)
            )
            typer.echo(f"label {label}: {shown}")


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
