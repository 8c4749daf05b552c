import json

import pytest

from promptlearn.errors import PromptlearnError
from promptlearn.outputs import staged_folder, write_json_atomic


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
    target.mkdir()
    (target / "old.txt").write_text("keep me")
    with pytest.raises(PromptlearnError, match="not empty; pass --overwrite"), staged_folder(target):
        pass
    assert (target / "old.txt").read_text() == "keep me"
    with staged_folder(target, overwrite=True) as folder:
        (folder / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]


def test_write_json_atomic_replaces_whole_file(tmp_path):
    path = tmp_path / "a" / "m.json"
    write_json_atomic(path, {"x": 1})
    write_json_atomic(path, {"x": 2})
    assert json.loads(path.read_text()) == {"x": 2}
    assert [p.name for p in path.parent.iterdir()] == ["m.json"]
