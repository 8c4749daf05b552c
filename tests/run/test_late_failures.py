"""Issue 20, item 21: what would fail only after training (positions, the output location) fails before it."""

import errno

import pytest
from typer.testing import CliRunner

from promptlearn.cli import app
from promptlearn.errors import PromptlearnError
from promptlearn.outputs import check_writable
from promptlearn.run import folder
from promptlearn.training.trainer import Trainer
from tests.helpers.cli import tiny_train_args
from tests.helpers.fixtures import TINY_TASK, write_task

runner = CliRunner()


@pytest.fixture
def no_training(monkeypatch):
    """Make training itself an error, so a test shows its refusal came before any."""

    def refuse(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(Trainer, "fit", refuse)


def train(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_an_output_below_a_file_is_refused_before_training(tiny_bert_dir, tiny_task_dir, tmp_path, no_training):
    (tmp_path / "file").write_text("not a folder")
    result = train(*tiny_train_args(tiny_bert_dir, tiny_task_dir, tmp_path / "file" / "run"))
    assert result.exit_code == 2, result.output
    assert f"Cannot write {tmp_path / 'file' / 'run'}: {tmp_path / 'file'} is a file, not a folder" in result.output


def test_check_writable_probes_the_nearest_existing_folder(tmp_path, monkeypatch):
    check_writable(tmp_path / "new" / "deeper" / "run")  # absent folders are made later, by the writer
    assert list(tmp_path.iterdir()) == []

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("promptlearn.outputs.tempfile.mkstemp", full)
    with pytest.raises(PromptlearnError, match=rf"Cannot write {tmp_path / 'run'}: .*No space left on device"):
        check_writable(tmp_path / "run")


def test_a_full_disk_at_the_final_writes_is_one_line_and_leaves_no_folder(
    tiny_bert_dir, tiny_task_dir, tmp_path, monkeypatch
):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", "weights.safetensors")

    monkeypatch.setattr(folder, "write_safetensors_atomic", full)
    result = train(*tiny_train_args(tiny_bert_dir, tiny_task_dir, tmp_path / "run"))
    assert result.exit_code == 2, result.output
    assert f"Could not write {tmp_path / 'run'}: [Errno 28] No space left on device" in result.output
    assert [p.name for p in tmp_path.iterdir() if p != tiny_task_dir] == []  # no run, no staged folder


def test_an_input_longer_than_the_models_positions_is_refused_before_training(tiny_bert_dir, tmp_path, no_training):
    long_test = {"text": " ".join(["the movie was fun"] * 20), "label": "positive"}  # 80 words; the model has 64
    task = write_task(tmp_path / "task", TINY_TASK | {"test": [*TINY_TASK["test"], long_test]})
    result = train(*tiny_train_args(tiny_bert_dir, task, tmp_path / "run"), "--max-length", 100)
    assert result.exit_code == 2, result.output
    assert "more than the model's 64 positions" in result.output and "--max-length 64" in result.output


def test_a_write_error_in_any_staged_folder_is_one_line_and_leaves_nothing(tmp_path):
    """export, PET's data folders and fewshot's run folders write through staged_folder too, not only train."""
    from promptlearn.outputs import EXPORT, staged_folder

    refused = pytest.raises(PromptlearnError, match=r"Could not write .*merged: \[Errno 13\] Permission denied")
    with refused, staged_folder(tmp_path / "merged", kind=EXPORT):
        raise PermissionError(errno.EACCES, "Permission denied", "model.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_an_os_error_anywhere_in_a_command_is_one_line_with_exit_status_2(tiny_bert_dir, tiny_task_dir, monkeypatch):
    """A file read or written outside the checked paths (here: the data, as it is read) is no traceback."""

    def unreadable(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tiny_task_dir))

    import promptlearn.data.examples

    monkeypatch.setattr(promptlearn.data.examples, "load_task_data", unreadable)
    args = ["evaluate", "--model", tiny_bert_dir, "--data", tiny_task_dir, "--pattern", "It was [MASK].",
            "--verbalizer", "positive=great,negative=terrible"]  # fmt: skip
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    assert "Error: [Errno 13] Permission denied" in result.output
    assert len(result.output.strip().splitlines()) == 1 and isinstance(result.exception, SystemExit)
