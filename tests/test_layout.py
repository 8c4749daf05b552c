"""Where tests live and what they may import, so a newcomer finds a package's tests by its name.

- A test file lives in ``tests/<name>/``, where ``<name>`` is what it tests: a package or module of
  promptlearn (``promptlearn/<name>/``, ``promptlearn/<name>.py``) or the entry point at the repository
  root (``cli.py``). Only tests of the repository as a whole sit at ``tests/`` itself: ROOT_TESTS.
- Code shared by several test files lives in ``tests/helpers/``; a package folder holds its test files
  and at most a ``conftest.py`` with fixtures for that folder.
- Tests import only ``tests.helpers.*``, never another test module or a conftest: pytest hands out
  conftest fixtures by name, and a test module imported elsewhere runs its module-level code (and, once
  imported with its tests, collects them) twice.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers.fixtures import REPO

TESTS = REPO / "tests"

#: tests of the repository as a whole: docs, the package map, golden runs, imports, the real model, conftest, this file
ROOT_TESTS = {
    "test_readme.py",
    "test_golden_runs.py",
    "test_imports.py",
    "test_integration_bert_tiny.py",
    "test_conftest.py",
    "test_layout.py",
    "test_architecture_doc.py",
}


def python_files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "__pycache__" not in p.parts)


def names_tested_code(folder: str) -> bool:
    package = REPO / "promptlearn"
    return (
        (package / folder / "__init__.py").is_file()
        or (package / f"{folder}.py").is_file()
        or (REPO / f"{folder}.py").is_file()
    )


def misplaced(path: Path) -> str | None:
    """Why ``path`` (a .py file under tests/) is in the wrong place, or None."""
    parts = path.relative_to(TESTS).parts
    if parts[0] == "helpers":
        return None if not path.name.startswith("test_") else "test files do not belong in tests/helpers/"
    if len(parts) == 1:
        if path.name == "conftest.py" or path.name in ROOT_TESTS:
            return None
        return "a package's tests go in tests/<package>/ (ROOT_TESTS lists the repository-level ones)"
    if len(parts) > 2:
        return "one folder level: tests/<package>/test_*.py"
    if not names_tested_code(parts[0]):
        return f"tests/{parts[0]}/ names no promptlearn package or module"
    if path.name != "conftest.py" and not path.name.startswith("test_"):
        return "shared test code goes in tests/helpers/"
    return None


def forbidden_imports(path: Path) -> list[str]:
    """The imports in ``path`` (at any depth, lazy ones too) of a test module, a conftest, or tests outside helpers."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level:
            found.append(f"line {node.lineno}: relative import (import tests.helpers.* by its full name)")
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            in_tests = parts[0] == "tests" and parts[1:2] != ["helpers"]
            if in_tests or any(p == "conftest" or p.startswith("test_") for p in parts):
                found.append(f"line {node.lineno}: {name}")
    return found


def test_every_test_file_lives_in_the_folder_of_what_it_tests():
    wrong = {str(p.relative_to(REPO)): why for p in python_files() if (why := misplaced(p))}
    assert not wrong, wrong


def test_tests_import_only_the_shared_helpers():
    wrong = {str(p.relative_to(REPO)): found for p in python_files() if (found := forbidden_imports(p))}
    assert not wrong, wrong


def test_the_checks_catch_what_they_are_for(tmp_path):
    module = tmp_path / "test_example.py"
    module.write_text(
        "from tests.modes.test_modes import CASES\nimport conftest\nfrom . import sibling\n"
        "def test_x():\n    from tests.helpers.modes import tiny_config\n    from tests import test_readme\n"
    )
    assert forbidden_imports(module) == [
        "line 1: tests.modes.test_modes.CASES",
        "line 2: conftest",
        "line 3: relative import (import tests.helpers.* by its full name)",
        "line 6: tests.test_readme",
    ]
    assert misplaced(TESTS / "test_pattern.py") is not None
    assert misplaced(TESTS / "prompts" / "test_pattern.py") == "tests/prompts/ names no promptlearn package or module"
    assert misplaced(TESTS / "prompt" / "fixtures.py") == "shared test code goes in tests/helpers/"
    assert misplaced(TESTS / "prompt" / "test_pattern.py") is None
    assert misplaced(TESTS / "cli" / "test_cli.py") is None
