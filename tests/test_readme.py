"""The README's Python examples run as written (on the real bert-tiny from ../shared)."""

import contextlib
import io
import re

from tests.helpers.fixtures import REPO


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", markdown, flags=re.DOTALL | re.MULTILINE)


def test_readme_python_blocks_run_as_written(bert_tiny_dir, shared_data_dir, tmp_path, monkeypatch):
    blocks = python_blocks((REPO / "README.md").read_text(encoding="utf-8"))
    assert blocks, "the README has no python block"
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
