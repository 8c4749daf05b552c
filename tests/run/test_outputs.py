import json
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from promptlearn.errors import PromptlearnError
from promptlearn.outputs import (
    RUN,
    check_output_free,
    mark_output,
    own_kind,
    set_aside,
    staged_folder,
    write_json_atomic,
)

REPO = Path(__file__).resolve().parents[2]


def test_folder_appears_only_when_complete(tmp_path):
    target = tmp_path / "run"
    with pytest.raises(RuntimeError), staged_folder(target) as folder:
        (folder / "metrics.json").write_text("{}")
        raise RuntimeError("interrupted")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == [], "no staging folder may be left behind"
    with staged_folder(target) as folder:
        (folder / "metrics.json").write_text("{}")
    assert (target / "metrics.json").is_file()


def test_non_empty_output_is_never_silently_replaced(tmp_path):
    target = tmp_path / "run"
    with staged_folder(target) as folder:
        (folder / "old.txt").write_text("keep me")
    with pytest.raises(PromptlearnError, match="not empty; pass --overwrite"), staged_folder(target):
        pass
    assert (target / "old.txt").read_text() == "keep me"
    with staged_folder(target, overwrite=True) as folder:
        (folder / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == [".promptlearn-run", "new.txt"]


def test_write_json_atomic_replaces_whole_file(tmp_path):
    path = tmp_path / "a" / "m.json"
    write_json_atomic(path, {"x": 1})
    write_json_atomic(path, {"x": 2})
    assert json.loads(path.read_text()) == {"x": 2}
    assert [p.name for p in path.parent.iterdir()] == ["m.json"]


# --- The folder rule (issue 20.16): replace only an empty folder or promptlearn's own, never an input.

TRAIN = ["--pattern", "It was [MASK].", "--verbalizer", "positive=great,negative=terrible", "--max-steps", "2"]


def invoke(*args):
    from typer.testing import CliRunner

    import promptlearn.cli as cli

    return CliRunner().invoke(cli.app, [str(a) for a in args])


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def checkout(tmp_path) -> Path:
    """A folder that is not promptlearn's: a git checkout with an uncommitted file."""
    folder = tmp_path / "checkout"
    (folder / ".git").mkdir(parents=True)
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (folder / "notes.txt").write_text("uncommitted work")
    return folder


def test_train_overwrite_refuses_a_folder_that_is_not_promptlearns(tiny_bert_dir, tiny_task_dir, checkout):
    before = snapshot(checkout)
    result = invoke("train", "-m", tiny_bert_dir, "-d", tiny_task_dir, *TRAIN, "-o", checkout, "--overwrite")
    assert result.exit_code == 2
    assert f"Output folder {checkout} is not empty and was not written by promptlearn" in result.output
    assert snapshot(checkout) == before


def test_train_into_its_own_model_or_data_is_refused(tiny_bert_dir, tiny_task_dir, tmp_path):
    before = snapshot(tiny_bert_dir)
    for output, flag in ((tiny_bert_dir, "--model"), (tiny_task_dir / "sub", "--data")):
        result = invoke("train", "-m", tiny_bert_dir, "-d", tiny_task_dir, *TRAIN, "-o", output, "--overwrite")
        assert result.exit_code == 2
        assert f"Output folder {output} overlaps {flag}" in result.output
    assert snapshot(tiny_bert_dir) == before
    unlabeled = tmp_path / "pool" / "u.jsonl"
    unlabeled.parent.mkdir()
    unlabeled.write_text('{"text": "a"}\n')
    with pytest.raises(PromptlearnError, match="overlaps --unlabeled"):
        check_output_free(unlabeled.parent, True, inputs={"--unlabeled": unlabeled})


def test_a_folder_holding_an_input_is_written_in_place_but_never_replaced(tmp_path):
    data = tmp_path / "experiment" / "task"
    data.mkdir(parents=True)
    mark_output(tmp_path / "experiment", "fewshot")
    check_output_free(tmp_path / "experiment", False, "fewshot", {"--data": data}, resume=True)
    for overwrite, resume in ((True, True), (True, False)):
        with pytest.raises(PromptlearnError, match="overlaps --data"):
            check_output_free(tmp_path / "experiment", overwrite, "fewshot", {"--data": data}, resume=resume)


def test_a_run_folder_is_replaced_only_whole_and_is_recognised_without_its_marker(tmp_path):
    target = tmp_path / "run"
    with staged_folder(target) as folder:
        (folder / "config.json").write_text("{}")
    assert own_kind(target) == RUN
    with pytest.raises(PromptlearnError, match="not empty; pass --overwrite to replace it"):
        check_output_free(target, overwrite=False)
    older = tmp_path / "older"  # a run folder written before the marker existed
    older.mkdir()
    for name in ("config.json", "weights.safetensors", "metrics.json"):
        (older / name).write_text("{}")
    with staged_folder(older, overwrite=True) as folder:
        (folder / "config.json").write_text("{}")
    assert sorted(p.name for p in older.iterdir()) == [".promptlearn-run", "config.json"]


def test_the_working_directory_its_parents_and_home_are_never_outputs(tmp_path, monkeypatch):
    work, home = tmp_path / "work" / "here", tmp_path / "users" / "me"
    for folder in (work, home):
        folder.mkdir(parents=True)
        mark_output(folder, RUN)  # even when it looks like promptlearn's own
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(home))
    for output, said in ((".", "is the working directory"), ("..", "is a folder above the working directory"),
                         (home, "is the home folder"), (home.parent, "is a folder above the home folder")):  # fmt: skip
        with pytest.raises(PromptlearnError, match=f"Output folder {re.escape(str(output))} {said}"):
            check_output_free(output, overwrite=True)


def test_export_overwrite_refuses_a_foreign_folder_and_its_own_run(tmp_path, checkout):
    from promptlearn import api

    before = snapshot(checkout)
    with pytest.raises(PromptlearnError, match="not written by promptlearn"):
        api.export_merged(tmp_path / "run", checkout, overwrite=True)
    assert snapshot(checkout) == before
    (tmp_path / "run").mkdir()
    with pytest.raises(PromptlearnError, match="overlaps the run"):
        api.export_merged(tmp_path / "run", tmp_path / "run" / "merged", overwrite=True)


def test_fewshot_refuses_an_unrelated_folder_before_any_work(tiny_bert_dir, tiny_task_dir, tmp_path):
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "summary.md").write_text("mine")
    (foreign / "experiment.json").write_text("{}")
    before = snapshot(foreign)
    args = ["fewshot", "-m", tiny_bert_dir, "--task", "sst2", "-d", tiny_task_dir, "--modes", "zero-shot"]
    result = invoke(*args, "--shots", "2", "--seeds", "1", "-o", foreign)
    assert result.exit_code == 2
    assert "is not empty and was not written by promptlearn" in result.output
    assert snapshot(foreign) == before
    result = invoke(*args, "--shots", "2", "--seeds", "1", "-o", tmp_path / "out", "--report", foreign)
    assert result.exit_code == 2 and "not written by promptlearn" in result.output
    assert snapshot(foreign) == before


def test_pretrain_prompt_refuses_a_foreign_folder(tiny_bert_dir, tmp_path, checkout):
    from promptlearn.ppt.config import PretrainConfig
    from promptlearn.ppt.pretrain import pretrain

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("a sentence.\n")
    config = PretrainConfig(model=str(tiny_bert_dir), corpus=str(corpus), format="single-sentence")
    before = snapshot(checkout)
    with pytest.raises(PromptlearnError, match="not written by promptlearn"):
        pretrain(config, checkout, overwrite=True)
    assert snapshot(checkout) == before
    with pytest.raises(PromptlearnError, match="overlaps --corpus"):
        pretrain(config, tmp_path, overwrite=True)


def test_set_aside_drops_the_old_folder_only_after_success(tmp_path):
    target = tmp_path / "pet"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), set_aside(target):
        target.mkdir()
        (target / "new.txt").write_text("unfinished")
        raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pet"]
    assert sorted(p.name for p in target.iterdir()) == ["old.txt"]
    with set_aside(target):
        target.mkdir()
        (target / "new.txt").write_text("done")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pet"]
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]


# --- Debris (issue 20.23): what a killed process left while staging is removed by the next writer.

KILLED_WHILE_WRITING = """
import os, signal, sys
from promptlearn.outputs import staged_folder
with staged_folder(sys.argv[1]) as folder:
    (folder / "config.json").write_text("{}")
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_staging_folder_left_by_a_killed_process_is_removed_by_the_next_run(tmp_path):
    done = subprocess.run([sys.executable, "-c", KILLED_WHILE_WRITING, str(tmp_path / "a")], cwd=REPO, check=False)
    assert done.returncode == -signal.SIGKILL
    assert [p.name.endswith(".partial") for p in tmp_path.iterdir()] == [True]
    with staged_folder(tmp_path / "b") as folder:
        (folder / "config.json").write_text("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


def test_a_live_processs_staging_folder_is_kept(tmp_path):
    with staged_folder(tmp_path / "a") as mine:  # this process is alive while it writes
        with staged_folder(tmp_path / "b") as folder:
            (folder / "config.json").write_text("{}")
        assert mine.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_a_folder_moved_aside_by_a_killed_swap_is_put_back(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    host = socket.gethostname()
    retired = tmp_path / f".run.{re.sub(r'[^A-Za-z0-9-]', '-', host)[:32]}-{pid}.retired"
    retired.mkdir()
    (retired / "metrics.json").write_text("{}")
    with staged_folder(tmp_path / "other") as folder:
        (folder / "config.json").write_text("{}")
    assert (tmp_path / "run" / "metrics.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other", "run"]
