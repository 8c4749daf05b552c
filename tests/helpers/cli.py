"""Running the CLI in-process, and the arguments of a tiny training run."""

from __future__ import annotations

from typer.testing import CliRunner

from promptlearn.cli import app

runner = CliRunner()


def invoke(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def tiny_train_args(model_dir, task_dir, output):
    return ["train", "--model", model_dir, "--data", task_dir, "--pattern", "It was [MASK].",
            "--verbalizer", "positive=great,negative=terrible", "--max-steps", 4, "--batch-size", 3,
            "--lr", 1e-3, "--output", output]  # fmt: skip
