"""The README's Python examples run as written (on the real bert-tiny from ../shared)."""

import ast
import contextlib
import io
import re

import pytest

from tests.helpers.fixtures import REPO


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", markdown, flags=re.DOTALL | re.MULTILINE)


def test_readme_python_blocks_parse_and_their_imports_exist():
    """The fast half of the test below: a renamed module or name the README imports fails here, without training."""
    blocks = python_blocks((REPO / "README.md").read_text(encoding="utf-8"))
    assert blocks, "the README has no python block"
    for block in blocks:
        imports = [node for node in ast.parse(block).body if isinstance(node, ast.Import | ast.ImportFrom)]
        exec(compile(ast.Module(body=imports, type_ignores=[]), "README.md", "exec"), {})


@pytest.mark.slow
def test_readme_python_blocks_run_as_written(bert_tiny_dir, shared_data_dir, tmp_path, monkeypatch):
    blocks = python_blocks((REPO / "README.md").read_text(encoding="utf-8"))
    (tmp_path / "shared").symlink_to(bert_tiny_dir.parent.parent)  # the README's ../shared, outside the repo
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    printed = io.StringIO()
    for block in blocks:
        with contextlib.redirect_stdout(printed):
            exec(compile(block, "README.md", "exec"), {"__name__": "__readme__"})
    assert "accuracy" in printed.getvalue()
    assert (work / "runs" / "sst2-pet-api" / "weights.safetensors").is_file()
