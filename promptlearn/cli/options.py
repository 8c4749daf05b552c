"""Command-line options generated from config dataclasses, so each option and default is declared once.

A field with a ``help`` in its metadata is an option: its flag is :func:`promptlearn.run.config.flag`
of its name (or the metadata's ``flag``), its type the field's, its help and default the field's.
Mode flags (``--prompt-length``, ``--readout``, ...) come from the mode options' fields marked ``flag``
(:func:`promptlearn.modes.options.mode_flags`); since the modes import torch, ``train`` adds them
only when the command line holds an option it does not know yet, or asks for ``--help``.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import shlex
import types
import typing

import typer
import typer.core

#: where :class:`ModeFlagsCommand` leaves the mode flags that were given, for the command to read
MODE_FLAGS = "mode_flags"


def _kind(hint) -> type:
    """``hint`` without its ``| None``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return next(t for t in typing.get_args(hint) if t is not type(None))
    return hint


def config_fields(config_class, names=None) -> list[dataclasses.Field]:
    """The fields of ``config_class`` that are options: those with a ``help`` (only ``names``, if given)."""
    fields = [f for f in dataclasses.fields(config_class) if "help" in f.metadata]
    return fields if names is None else [f for f in fields if f.name in names]


def field_default(item: dataclasses.Field):
    if item.default_factory is not dataclasses.MISSING:
        return item.default_factory()
    return None if item.default is dataclasses.MISSING else item.default


def options_from(config_class, into: str, names=None, helps=None, given_only: bool = False, kinds=None, fallbacks=None):
    """Give ``command`` one option per option field of ``config_class`` and pass their values as one dict ``into``.

    ``helps`` replaces a field's help where the command means something more specific by it;
    ``kinds`` the type an option parses (e.g. ``Path`` for a str field that names a file; the value
    is passed on as the field's type). The options go where ``into`` stands among the command's
    parameters. A field without a default is a required option; a list field is a repeatable option
    (its ``show_default`` metadata False hides the default where the help states it).
    ``given_only``: the options default to None and only the given ones are passed on (the help
    shows the field's default), so that the config's own defaults apply; otherwise each option's
    default is the field's and every value is passed on. ``fallbacks``, with ``given_only``: what the help
    states as the default of an option whose value is not the config's when it is left out (e.g. "the
    run's, or {default!r}", ``{default}`` being the field's default).
    """
    from promptlearn.run.config import flag

    hints = typing.get_type_hints(config_class)
    helps, kinds, fallbacks = helps or {}, kinds or {}, fallbacks or {}

    def decorate(command):
        parameters = list(inspect.signature(command).parameters.values())
        at = [p.name for p in parameters].index(into)
        before, after = parameters[:at], parameters[at + 1 :]
        annotations = {p.name: p.annotation for p in (*before, *after)}
        added, passed_as, fields = [], {}, config_fields(config_class, names)
        for item in fields:
            kind = _kind(hints[item.name])
            name = item.metadata.get("flag", flag(item.name))
            negated = name if "/" in name else f"{name}/--no-{name[2:]}"  # a flag may name its own "off" form
            decls = (negated,) if kind is bool else (name,)
            decls += tuple(item.metadata.get("short", ()))
            text = helps.get(item.name, item.metadata["help"])
            default = field_default(item)
            if given_only:
                fallback = fallbacks.get(item.name, "" if default is None else "{default}")
                shown = fallback and f" (default: {fallback.format(default=default)})"
                option = typer.Option(None, *decls, help=text + shown, show_default=False)
            elif item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING:
                option = typer.Option(..., *decls, help=text)
            else:
                option = typer.Option(default, *decls, help=text, show_default=item.metadata.get("show_default", True))
            if typing.get_origin(hints[item.name]) is list or isinstance(default, list):
                kind = list[_kind(typing.get_args(_kind(hints[item.name]))[0])]
            if item.name in kinds:
                passed_as[item.name] = kind
                kind = kinds[item.name]
            added.append(inspect.Parameter(item.name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind))
            annotations[item.name] = kind
        defaults = {p.name: field_default(item) for p, item in zip(added, fields, strict=True)}

        def value_of(name: str, value):
            if isinstance(value, (list, tuple)) and not value:  # a repeatable option not given
                return defaults[name]
            if name in passed_as and value is not None:
                return passed_as[name](value)
            return value

        @functools.wraps(command)
        def wrapper(*args, **kwargs):
            values = {name: value_of(name, kwargs.pop(name)) for name in defaults}
            if given_only:
                values = {name: value for name, value in values.items() if value is not None}
            return command(*args, **kwargs, **{into: values})

        keyword = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in (*before, *added, *after)]
        wrapper.__signature__ = inspect.Signature(keyword)
        wrapper.__annotations__ = annotations
        return wrapper

    return decorate


@functools.cache
def mode_flag_params() -> tuple:
    """The click options of every mode flag, built by typer from a function that takes them."""
    from promptlearn.modes.options import mode_flags

    flags = mode_flags()
    parameters = [
        inspect.Parameter(
            f.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=typer.Option(None, f.decls, help=f.help, show_default=False),
            annotation=f.kind,
        )
        for f in flags
    ]

    def takes_flags(**values):
        """Never called: typer only reads its signature."""

    takes_flags.__signature__ = inspect.Signature(parameters)
    takes_flags.__annotations__ = {f.name: f.kind for f in flags}
    builder = typer.Typer(add_completion=False)
    builder.command()(takes_flags)
    params = typer.main.get_command(builder).params
    for param in params:
        param.mode_flag = True
    return tuple(params)


class ModeFlagsCommand(typer.core.TyperCommand):
    """A command that takes the mode flags too, adding them only when its command line needs them.

    Their values reach the command in ``ctx.meta[MODE_FLAGS]``: typer hands a callback only the
    parameters its signature declares.
    """

    def _mode_flags(self) -> list[str]:
        """The mode flags' names, once they are added."""
        return [param.name for param in self.params if getattr(param, "mode_flag", False)]

    def _add_mode_flags(self) -> None:
        if not self._mode_flags():
            self.params = [*self.params, *mode_flag_params()]

    def parse_args(self, ctx, args):
        known = {opt for param in self.params for opt in (*param.opts, *param.secondary_opts)}
        if any(arg.startswith("--") and arg.partition("=")[0] not in known for arg in args):
            self._add_mode_flags()  # an unknown option (or --help): perhaps a mode flag
        return super().parse_args(ctx, args)

    def format_help(self, ctx, formatter):
        self._add_mode_flags()
        return super().format_help(ctx, formatter)

    def invoke(self, ctx):
        ctx.meta[MODE_FLAGS] = {name: ctx.params.pop(name) for name in self._mode_flags() if name in ctx.params}
        return super().invoke(ctx)


def given_options(ctx: typer.Context, skip: tuple[str, ...] = ()) -> str:
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
