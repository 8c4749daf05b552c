"""The package map holds: imports run one way, from later pipeline stages to earlier ones, with no cycle.

Every import counts, at module level, inside functions and under ``TYPE_CHECKING``: a cycle hidden in a
function or a type hint is still a design cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "promptlearn"

#: the pipeline stages in order; a module may import its own stage and the stages before it
STAGES = (
    "errors", "hub", "outputs", "data", "tasks", "prompt", "backbone", "readout", "modes", "model",
    "training", "run", "multitask", "export", "api", "pet", "ppt", "experiment", "bench", "cli",
)  # fmt: skip


#: module paths from before the package split, kept for one release: they re-export, and nothing imports them
COMPATIBILITY = {"promptlearn.config": "promptlearn.run.config"}


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The promptlearn modules ``name`` imports anywhere in its source (a package counts as its __init__)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            if base.split(".")[0] == "promptlearn":
                found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "promptlearn"}
    return found - {name}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "promptlearn"


def test_every_module_belongs_to_a_stage():
    unknown = sorted({stage(m) for m in modules() if m not in COMPATIBILITY} - {*STAGES, "promptlearn", "_presets"})
    assert not unknown, f"add {unknown} to STAGES in its place in the pipeline"


def test_imports_run_from_later_stages_to_earlier_ones():
    order = {name: i for i, name in enumerate(STAGES)}
    backwards = [
        f"{module} -> {target}"
        for module, targets in graph().items()
        for target in targets
        if stage(module) in order
        and stage(target) in order
        and order[stage(target)] > order[stage(module)]
        and module not in COMPATIBILITY
    ]
    assert not backwards, "imports against the pipeline order:\n" + "\n".join(sorted(backwards))


def test_no_import_cycle_anywhere():
    edges = graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []
    cycles = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(edges.get(module, ())):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_walk_sees_imports_inside_functions_and_type_checking(tmp_path):
    """The walk itself: a lazy import and a TYPE_CHECKING one are both edges."""
    source = tmp_path / "probe.py"
    source.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from promptlearn.api import Prompted\n"
        "def f():\n    from promptlearn.prompt import pattern\n"
    )
    found = imports("promptlearn.probe", source, {"promptlearn.prompt.pattern": source})
    assert found == {"promptlearn.api", "promptlearn.prompt.pattern"}


def test_old_module_paths_only_re_export_and_nothing_imports_them():
    edges = graph()
    for old, new in COMPATIBILITY.items():
        assert edges[old] == {new}, f"{old} must only re-export {new}"
        users = sorted(module for module, targets in edges.items() if old in targets)
        assert not users, f"{users} import {old}; import {new}"


def test_old_public_paths_still_import():
    """What the README showed before the package split keeps working for one release."""
    from promptlearn import Example, PromptModel, RunConfig
    from promptlearn.config import RunConfig as OldRunConfig
    from promptlearn.data import Example as OldExample
    from promptlearn.data import few_shot, load_task_data  # noqa: F401
    from promptlearn.model import PromptModel as OldPromptModel

    assert (OldRunConfig, OldExample, OldPromptModel) == (RunConfig, Example, PromptModel)
