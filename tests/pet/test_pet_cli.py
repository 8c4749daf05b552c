"""`promptlearn pet` through Typer's CliRunner: a run, a resumed run, and refused input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from promptlearn.cli import app
from tests.helpers import pet as pet_helpers

runner = CliRunner()

pet_task = pet_helpers.pet_task  # the fixture


def _args(model, data, out) -> list[str]:
    return [
        "pet", "--model", str(model), "--data", str(data), "--output", str(out), "--shots", "2",
        "--pattern", "{text} it was [MASK] .", "--pattern", "[MASK] : {text}", "--repetitions", "1",
        "--verbalizer", "positive=great,negative=terrible", "--max-steps", "2", "--eval-every", "1",
        "--final-steps", "2", "--quiet",
    ]  # fmt: skip


@pytest.mark.slow
def test_pet_command_writes_the_summary_and_resumes(tiny_bert_dir, pet_task, tmp_path):
    out = tmp_path / "pet"
    first = runner.invoke(app, _args(tiny_bert_dir, pet_task, out))
    assert first.exit_code == 0, first.output
    assert "| g0/ensemble (wmean) |" in first.output
    assert (out / "summary.md").is_file() and (out / "g0" / "p1-r0" / "metrics.json").is_file()
    stamp = (out / "g0" / "p0-r0" / "metrics.json").stat().st_mtime_ns
    again = runner.invoke(app, _args(tiny_bert_dir, pet_task, out))
    assert again.exit_code == 0, again.output
    assert (out / "g0" / "p0-r0" / "metrics.json").stat().st_mtime_ns == stamp
    assert "the final model is" in again.output
    evaluated = runner.invoke(app, ["evaluate", "--run", str(out / "final")])
    assert evaluated.exit_code == 0, evaluated.output
    result = json.loads(evaluated.output[evaluated.output.index("{") :])
    assert result["split"] == "test" and result["examples"] == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--patterns", "0"], "not both"),
        (["--reduction", "median"], "--reduction must be one of mean, wmean"),
        (["--generations", "1", "--scale-factor", "0.5"], "--scale-factor must be above 1"),
    ],
)
def test_pet_command_refuses_bad_options(tiny_bert_dir, pet_task, tmp_path, extra, message):
    result = runner.invoke(app, [*_args(tiny_bert_dir, pet_task, tmp_path / "pet"), *extra])
    assert result.exit_code == 2
    assert message in result.output
    assert not (tmp_path / "pet").exists()
