"""No module outside ``modes/<name>.py`` tests a mode's name: everything else asks the mode's hooks and attributes."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from promptlearn.modes import MODES
from tests.helpers.fixtures import REPO


def _strings(node: ast.expr) -> list[str]:
    """The string constants ``node`` is, or holds as a tuple, list or set literal."""
    items = node.elts if isinstance(node, ast.Tuple | ast.List | ast.Set) else [node]
    return [item.value for item in items if isinstance(item, ast.Constant) and isinstance(item.value, str)]


def _is_mode_name(node: ast.expr) -> bool:
    """``mode``, ``mode.name``, ``config.mode``, ``self.mode.name`` and the like."""
    text = ast.unparse(node)
    return text == "mode" or text.endswith((".mode", "mode.name")) or text == "self.name"


def name_tests(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, source, mode names) of each comparison in ``path`` with a mode's name, or of a mode's name
    with any string."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            strings = [s for operand in operands for s in _strings(operand)]
            named = [s for s in strings if s in MODES]
            if named or (strings and any(_is_mode_name(operand) for operand in operands)):
                found.append((node.lineno, ast.unparse(node), named))
        elif isinstance(node, ast.match_case) and isinstance(node.pattern, ast.MatchValue):
            named = [s for s in _strings(node.pattern.value) if s in MODES]
            if named:
                found.append((node.pattern.lineno, ast.unparse(node.pattern), named))
    return found


def test_no_module_outside_a_mode_s_own_file_tests_its_name():
    own_file = {name: Path(inspect.getfile(cls)).resolve() for name, cls in MODES.items()}
    offences = [
        f"{path.relative_to(REPO)}:{line}: {source}"
        for path in sorted((REPO / "promptlearn").rglob("*.py"))
        for line, source, named in name_tests(path)
        if not named or any(own_file[name] != path.resolve() for name in named)
    ]
    assert not offences, "give the mode an attribute or hook instead of testing its name:\n" + "\n".join(offences)


def test_the_check_finds_name_tests(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        'if mode == "pet": pass\n'
        'if run.model.mode.name in ("lora", "qlora"): pass\n'
        'if config.mode != "anything": pass\n'
        'match mode:\n    case "ptuning":\n        pass\n'
        'if readout == "cls" and pooling == "mean": pass\n'
    )
    assert [line for line, _, _ in name_tests(sample)] == [1, 2, 3, 5]
