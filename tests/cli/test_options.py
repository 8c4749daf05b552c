"""Every command's options come from its config dataclass: each field with a help is an option with the
field's default, no default literal is written twice in the CLI, and mode flags say what `modes NAME` says."""

import ast
import dataclasses
from pathlib import Path

import typer.main

import promptlearn.cli.commands
from promptlearn.cli import app
from promptlearn.cli.options import ModeFlagsCommand, config_fields, field_default, mode_flag_params
from promptlearn.model.modes_table import describe_mode
from promptlearn.modes import MODES
from promptlearn.pet.config import RUN_OPTIONS, PetConfig
from promptlearn.run.config import RunConfig, flag

#: command -> (config dataclass, the fields it takes (None: all with a help), whether defaults are the field's)
GENERATED = {"train", "pet"}
COMMANDS = {
    "train": (RunConfig, None, False),
    "pet": (PetConfig, None, True),
    "pet ": (RunConfig, RUN_OPTIONS, True),
}


def command(name: str):
    group = typer.main.get_command(app)
    return group.commands[name.strip()]


def test_every_config_field_with_help_is_an_option_with_its_default():
    for name, (config_class, names, own_defaults) in COMMANDS.items():
        params = {p.name: p for p in command(name).params}
        for item in config_fields(config_class, names):
            assert item.name in params, f"{name} lacks {flag(item.name)}"
            param = params[item.name]
            if own_defaults:
                assert param.default == field_default(item), f"{name} {flag(item.name)}"
            else:  # train passes on only what was given, and shows the field's default in the help
                assert param.default is None
                if field_default(item) is not None:
                    assert f"(default: {field_default(item)})" in param.help


def test_generated_commands_restate_no_config_default():
    """train and pet declare none of their config's defaults (the other commands still do: issue 21)."""
    source = Path(promptlearn.cli.commands.__file__).read_text(encoding="utf-8")
    functions = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef) and n.name in GENERATED]
    literals = [
        node.args[0].value
        for function in functions
        for node in ast.walk(function)
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "Option" and node.args
        if isinstance(node.args[0], ast.Constant)
    ]
    config_defaults = {
        field_default(f)
        for config_class in (RunConfig, PetConfig)
        for f in dataclasses.fields(config_class)
        if "help" in f.metadata and field_default(f) not in (None, False, True)
    }
    restated = [value for value in literals if value in config_defaults and value not in (None, False, True)]
    assert not restated, f"defaults restated by hand in the CLI: {restated}"


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
