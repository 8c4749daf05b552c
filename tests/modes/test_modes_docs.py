"""docs/modes.md keeps one section per registered mode and the code's default learning rates."""

from __future__ import annotations

import re
from pathlib import Path

from promptlearn.model.modes_table import default_learning_rates
from promptlearn.modes import MODES

DOC = Path(__file__).resolve().parents[2] / "docs" / "modes.md"


def test_every_mode_has_a_section_and_its_default_rates_in_the_table():
    text = DOC.read_text(encoding="utf-8")
    sections = set(re.findall(r"^## (\w+)$", text, flags=re.MULTILINE))
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]+) \|", text, flags=re.MULTILINE))
    for name, mode_class in MODES.items():
        assert name in sections, f"docs/modes.md has no '## {name}' section"
        assert name in rows, f"docs/modes.md's table has no row for {name}"
        documented = {group: float(rate) for group, rate in re.findall(r"(\w+)=([\d.e-]+)", rows[name])}
        actual = {
            group: float(rate) for group, rate in re.findall(r"(\w+)=([\d.e-]+)", default_learning_rates(mode_class))
        }
        assert documented == actual, f"{name}: docs say {documented}, code says {actual}"


def rates(text: str) -> dict[str, float]:
    """``{"model": 1e-4}`` from ``model=1e-4`` / ``model=0.0001``."""
    return {group: float(rate) for group, rate in re.findall(r"(\w+)=([\d.e-]+)", text)}
