"""docs/architecture.md's package map names every module of the library, and only modules that exist.

A new module without its line in the map fails here, so the map stays the place a new maintainer
can trust to find a concern by its folder name.
"""

from __future__ import annotations

import re

from tests.helpers.fixtures import REPO


def test_the_package_map_has_one_line_per_module():
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `(promptlearn/[\w/]+\.py)` \|", text, flags=re.MULTILINE)
    on_disk = sorted(str(p.relative_to(REPO)) for p in (REPO / "promptlearn").rglob("*.py"))
    assert len(listed) == len(set(listed)), "a module is listed twice"
    assert sorted(listed) == on_disk, (
        f"missing from the map: {sorted(set(on_disk) - set(listed))}; "
        f"listed but absent: {sorted(set(listed) - set(on_disk))}"
    )
