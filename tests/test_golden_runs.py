"""The golden run folders (scripts/golden_runs.py): today's outputs, byte for byte, stay what was recorded.

A redesign that moves modules (issue 21) must not change a single byte a user's runs write; this
re-runs the fixed set of CLI runs and compares them with tests/golden/run_digests.json.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from promptlearn.modes import MODES
from tests.helpers.fixtures import REPO

SCRIPT = REPO / "scripts" / "golden_runs.py"


def _script():
    """scripts/golden_runs.py as a module (scripts/ is not a package); registered first, as its dataclass needs."""
    spec = importlib.util.spec_from_file_location("golden_runs", SCRIPT)
    module = sys.modules.setdefault("golden_runs", importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)
    return module


golden = _script()


def test_every_registered_mode_has_a_golden_run():
    assert set(golden.MODES) == set(MODES), "add the new mode to MODES in scripts/golden_runs.py, then record"


def test_a_changed_output_is_named_by_run_file_and_key():
    work = REPO / "nowhere"
    old = {"train-pet": {"metrics.json": golden.digest_text("metrics.json", '{"test": {"accuracy": 0.5}}', work)}}
    new = {"train-pet": {"metrics.json": golden.digest_text("metrics.json", '{"test": {"accuracy": 1.0}}', work)}}
    assert golden.differences(old, new) == ["train-pet/metrics.json: test.accuracy: 0.5 -> 1.0"]
    assert golden.differences(old, {}) == ["train-pet: run missing"]


def test_timings_and_the_work_folder_are_normalised_and_nothing_else():
    work = REPO / "somewhere"
    first = golden.digest_text("m.json", json.dumps({"wall_seconds": 1.5, "data": f"{work}/pool", "steps": 3}), work)
    second = golden.digest_text(
        "m.json", json.dumps({"wall_seconds": 9.0, "data": "/elsewhere/pool", "steps": 3}), work
    )
    assert first["json"] == {"wall_seconds": "<timing>", "data": "<WORK>/pool", "steps": 3}
    assert first["sha256"] != second["sha256"]  # a path outside the work folder is not a placeholder
    table = "| mode | seconds |\n| --- | --- |\n| pet | 1.2 |\n\nWall time of this invocation: 3.4 s.\n"
    assert golden.digest_text("s.md", table, work) == golden.digest_text("s.md", table.replace("1.2", "7.0"), work)
    assert golden.digest_text("s.md", table, work) != golden.digest_text("s.md", table.replace("pet", "lora"), work)


@pytest.mark.slow
def test_run_folders_are_byte_identical_to_the_recorded_ones():
    recorded = json.loads(golden.REFERENCE.read_text())["environment"]
    if recorded != golden.environment():
        pytest.skip(f"the golden runs were recorded with {recorded}, this is {golden.environment()}: re-record")
    env = os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "check"], cwd=REPO, env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr[-3000:]}"
