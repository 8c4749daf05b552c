"""Every command's options come from its config dataclass: each field with a help is an option with the
field's default, no default literal is written twice in the CLI, and mode flags say what `modes NAME` says."""

import ast
import dataclasses
from pathlib import Path

import typer.main

import promptlearn.cli.commands
from promptlearn.bench.config import BenchConfig
from promptlearn.cli import app
from promptlearn.cli.commands import PREDICT_HELPS, SHOW_OPTIONS
from promptlearn.cli.options import ModeFlagsCommand, config_fields, field_default, mode_flag_params
from promptlearn.experiment.grid import GridOptions
from promptlearn.model.modes_table import describe_mode
from promptlearn.modes import MODES
from promptlearn.pet.config import RUN_OPTIONS, PetConfig
from promptlearn.ppt.config import PretrainConfig
from promptlearn.run.config import RunConfig, flag
from promptlearn.run.evaluate import EVALUATE_OVERRIDES
from promptlearn.run.options import COLUMN_FIELDS
from promptlearn.run.search_options import SEARCH_RUN_OPTIONS, SearchOptions

#: (command, config dataclass, the fields it takes (None: all with a help), whether defaults are the field's)
COMMANDS = [
    ("train", RunConfig, None, False),
    ("pet", PetConfig, None, True),
    ("pet", RunConfig, RUN_OPTIONS, True),
    ("pretrain-prompt", PretrainConfig, None, True),
    ("bench", BenchConfig, None, True),
    ("search-verbalizer", SearchOptions, None, True),
    ("search-verbalizer", RunConfig, SEARCH_RUN_OPTIONS, True),
    ("evaluate", RunConfig, ("eval_batch_size",), True),
    ("evaluate", RunConfig, EVALUATE_OVERRIDES, False),
    ("predict", RunConfig, COLUMN_FIELDS, False),
    ("show-pattern", RunConfig, SHOW_OPTIONS, True),
    ("fewshot", GridOptions, None, True),
]
#: every config dataclass a command takes options from
CONFIGS = (RunConfig, PetConfig, PretrainConfig, BenchConfig, SearchOptions, GridOptions)


def command(name: str):
    return typer.main.get_command(app).commands[name]


def test_every_config_field_with_help_is_an_option_with_its_default():
    for name, config_class, names, own_defaults in COMMANDS:
        params = {p.name: p for p in command(name).params}
        for item in config_fields(config_class, names):
            assert item.name in params, f"{name} lacks {flag(item.name)}"
            param = params[item.name]
            if own_defaults:
                assert param.default == field_default(item), f"{name} {flag(item.name)}"
                assert param.required == (field_default(item) is None and item.default is dataclasses.MISSING)
            else:  # passes on only what was given, and says in the help what applies when it is not
                assert param.default is None
                assert "(default: " in param.help or field_default(item) is None, f"{name} {flag(item.name)}"
                if field_default(item) is not None and "the run's" not in param.help:
                    assert f"(default: {field_default(item)})" in param.help


def test_evaluate_and_predict_say_that_a_left_out_option_keeps_the_runs_value():
    evaluate, predict = ({p.name: p for p in command(name).params} for name in ("evaluate", "predict"))
    for name in ("decoding", *COLUMN_FIELDS):
        assert evaluate[name].help.endswith(f"(default: the run's, or {getattr(RunConfig, name)!r})")
        assert predict.get(name) is None or predict[name].help.endswith("(default: the run's)")
    assert set(PREDICT_HELPS) <= set(COLUMN_FIELDS)


def test_every_option_named_after_a_config_field_has_its_default_or_none():
    """Walks every command of the app: an option named after a field of a config has that field's default, or
    None (the config's, or a run's, value applies)."""
    defaults = {}
    for config_class in CONFIGS:
        for item in config_fields(config_class):
            defaults.setdefault(item.name, []).append(field_default(item))
    checked = 0
    for name, click_command in typer.main.get_command(app).commands.items():
        for param in click_command.params:
            if param.name in defaults:
                checked += 1
                assert param.default is None or param.default in defaults[param.name], f"{name} --{param.name}"
    assert checked > 100


def _literal_defaults() -> dict[str, dict[str, object]]:
    """Per command function of promptlearn/cli/, its parameters whose ``typer.Option`` default is a literal."""
    found = {}
    for path in Path(promptlearn.cli.commands.__file__).parent.glob("*.py"):
        for function in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(function, ast.FunctionDef):
                continue
            args = function.args.args + function.args.kwonlyargs
            defaults = [None] * (len(function.args.args) - len(function.args.defaults)) + function.args.defaults
            for arg, default in zip(args, defaults + function.args.kw_defaults, strict=True):
                if not (isinstance(default, ast.Call) and getattr(default.func, "attr", "") == "Option"):
                    continue
                if default.args and isinstance(default.args[0], ast.Constant) and default.args[0].value is not ...:
                    found.setdefault(function.name, {})[arg.arg] = default.args[0].value
    return found


def test_no_command_restates_a_config_default():
    """No command's option named after an option field of a config takes its default from a literal: a command
    that means the field takes it from the field (the test above), one that means something else (evaluate's
    --max-length: the run's) has None."""
    fields = {f.name for _, config_class, _, _ in COMMANDS for f in config_fields(config_class)}
    restated = {
        (function, arg): value
        for function, args in _literal_defaults().items()
        for arg, value in args.items()
        if arg in fields and value is not None
    }
    assert not restated, f"config defaults written by hand in the CLI: {restated}"


def test_train_mode_flags_show_what_modes_name_shows():
    train = command("train")
    assert isinstance(train, ModeFlagsCommand)
    helps = {p.name: p.help for p in mode_flag_params()}
    for name, mode_class in MODES.items():
        described = describe_mode(name)
        for item in dataclasses.fields(mode_class.options_class):
            assert item.metadata.get("help"), f"{name}: option {item.name} has no help"
            assert f"{item.name} (" in described and item.metadata["help"] in described
            if "flag" in item.metadata:
                assert "[--mode " in helps[item.name] and item.metadata["help"] in helps[item.name]


def test_train_help_lists_the_mode_flags():
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "300", "TERMINAL_WIDTH": "300"})
    assert result.exit_code == 0
    for param in mode_flag_params():
        assert param.opts[0] in result.output


#: literals the CLI writes for their own sake that happen to equal a field's default: indices and counts
#: (0, 1) and the name of a data split (show-pattern's --split train; PetConfig's weights_from means a split)
NOT_DEFAULTS = {0, 1, "train"}


def test_no_config_default_is_written_in_the_cli():
    """No literal of promptlearn/cli/ (outside docstrings) equals a config field's default: a default is stated
    where its field is declared, and the CLI reads it from there (e.g. --max-length's 128, --seed's 13)."""
    defaults = {
        repr(field_default(item)): f"{config_class.__name__}.{item.name}"
        for config_class in CONFIGS
        for item in config_fields(config_class)
        if field_default(item) is not None and not isinstance(field_default(item), bool)
    }
    written = []
    for path in Path(promptlearn.cli.commands.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and ast.get_docstring(node) is not None
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant) or id(node) in docstrings or isinstance(node.value, bool):
                continue
            if repr(node.value) in defaults and node.value not in NOT_DEFAULTS:
                written.append(f"{path.name}:{node.lineno} {node.value!r} ({defaults[repr(node.value)]})")
    assert not written, "config defaults written in the CLI: " + ", ".join(written)


def test_fewshot_refuses_fewer_than_one_worker_before_reading_anything(tmp_path):
    """The grid's options are checked first: a missing experiment file is not what the user hears about."""
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["fewshot", "--workers", "0", "--config", str(tmp_path / "absent.yaml")])
    assert result.exit_code == 2
    assert "--workers must be at least 1, got 0" in result.output
