"""The real-model tests skip where ../shared is absent, but never silently under CI."""

import pytest

from tests.helpers.fixtures import require_shared


def test_missing_shared_files_fail_under_ci_and_skip_elsewhere(tmp_path, monkeypatch):
    missing = tmp_path / "models" / "bert-tiny" / "model.safetensors"
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set, so the tests that need it fail instead of skipping"):
        require_shared(missing, "real model")
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match="real model not found"):
        require_shared(missing, "real model")
    missing.parent.mkdir(parents=True)
    missing.write_bytes(b"")
    monkeypatch.setenv("CI", "true")
    require_shared(missing, "real model")
