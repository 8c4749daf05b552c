"""``--mode-opt key=value``: mode options given as text, checked and typed against the mode's options dataclass."""

from __future__ import annotations

import dataclasses
import typing

from promptlearn.errors import PromptlearnError
from promptlearn.modes import Mode

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def option_fields(mode_class: type[Mode]) -> list[tuple[str, str, object, str]]:
    """(name, type as written, default, help) of every option of ``mode_class``."""
    hints = typing.get_type_hints(mode_class.options_class)
    return [
        (f.name, _type_name(hints[f.name]), f.default, f.metadata.get("help", ""))
        for f in dataclasses.fields(mode_class.options_class)
    ]


@dataclasses.dataclass(frozen=True)
class ModeFlag:
    """A mode option that is also a ``promptlearn train`` flag (its field's metadata has ``flag``).

    ``decls`` is the flag as typer declares it (``--prompt-length``, ``--tune-model/--freeze-model``);
    ``help`` names the modes that take it before each of their help texts (``[--mode ...]``).
    """

    name: str
    kind: type
    decls: str
    help: str


def mode_flags() -> list[ModeFlag]:
    """Every flag some registered mode's options declare, in the order they are first declared."""
    from promptlearn.modes import MODES

    found: dict[str, tuple[type, str, dict[str, list[str]]]] = {}
    for name in sorted(MODES):
        options = MODES[name].options_class
        hints = typing.get_type_hints(options)
        for item in dataclasses.fields(options):
            if "flag" not in item.metadata:
                continue
            kinds = typing.get_args(hints[item.name]) or (hints[item.name],)
            kind = next(k for k in kinds if k is not type(None))
            decls = item.metadata["flag"] if isinstance(item.metadata["flag"], str) else _decls(item.name, kind)
            found.setdefault(item.name, (kind, decls, {}))[2].setdefault(item.metadata["help"], []).append(name)
    return [
        ModeFlag(key, kind, decls, " ".join(f"[--mode {', '.join(modes)}] {text}" for text, modes in helps.items()))
        for key, (kind, decls, helps) in found.items()
    ]


def _decls(name: str, kind: type) -> str:
    flag = "--" + name.replace("_", "-")
    return f"{flag}/--no-{flag[2:]}" if kind is bool else flag


def parse_mode_options(mode_class: type[Mode], pairs: list[str]) -> dict:
    """``["r=16", "target=all-linear"]`` -> ``{"r": 16, "target": "all-linear"}``, typed by the options dataclass.

    An unknown key, a repeated key or a value of the wrong type is a :class:`PromptlearnError` that
    lists the options the mode accepts.
    """
    hints = typing.get_type_hints(mode_class.options_class)
    known = {f.name for f in dataclasses.fields(mode_class.options_class)}
    accepted = ", ".join(
        f"{name} ({kind}, default {default!r})" for name, kind, default, _ in option_fields(mode_class)
    )
    values = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise PromptlearnError(f"--mode-opt takes key=value, got {pair!r}")
        if key not in known:
            raise PromptlearnError(
                f"Mode {mode_class.name!r} has no option {key!r}; it takes: {accepted or 'no options'}"
            )
        if key in values:
            raise PromptlearnError(f"--mode-opt {key} is given twice")
        values[key] = _convert(text.strip(), hints[key], f"--mode-opt {key}")
    return values


def _convert(text: str, hint, where: str):
    kinds = typing.get_args(hint) or (hint,)  # (int, NoneType) for ``int | None``
    if type(None) in kinds and text.lower() in ("none", "null"):
        return None
    for kind in kinds:
        if kind is bool:
            if text.lower() in _TRUE | _FALSE:
                return text.lower() in _TRUE
        elif kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                continue
        elif kind is str:
            return text
    raise PromptlearnError(f"{where}: {text!r} is not {_type_name(hint)}")


def _type_name(hint) -> str:
    kinds = typing.get_args(hint) or (hint,)
    return " or ".join("none" if kind is type(None) else kind.__name__ for kind in kinds)
