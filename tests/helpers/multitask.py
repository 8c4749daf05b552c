"""The two-task file the multi-task tests train on: two tiny fixture tasks, each with its own pattern and words."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.fixtures import TINY_TASK, write_task

TASKS = """
- name: sentiment
  data: sentiment
  pattern: "{text} It was [MASK]."
  verbalizer: {positive: great, negative: terrible}
- name: question
  data: question
  pattern: "{text} ? [MASK]"
  verbalizer: "positive=yes,negative=no"
"""


def write_tasks(root: Path) -> Path:
    """Both tasks' data folders under ``root`` and ``root/tasks.yaml`` naming them; returns the YAML's path."""
    for name in ("sentiment", "question"):
        write_task(root / name, TINY_TASK)
    (root / "tasks.yaml").write_text(TASKS)
    return root / "tasks.yaml"
