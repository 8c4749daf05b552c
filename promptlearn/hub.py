"""Fail fast, with a clear message, when something must come from the Hugging Face Hub but cannot."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from promptlearn.errors import PromptlearnError

_OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")


def require_hub(what: str, name: str, timeout: float = 3.0) -> None:
    """Raise unless the Hub answers within ``timeout`` seconds; ``what`` is 'model' or 'dataset'."""
    advice = f"pass a local folder instead of {name!r}, or run where https://huggingface.co is reachable"
    for variable in _OFFLINE_VARIABLES:
        if os.environ.get(variable, "").lower() in {"1", "true", "yes", "on"}:
            raise PromptlearnError(
                f"{name!r} is not a local folder and {variable} is set, so the {what} cannot be downloaded: {advice}."
            )
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        socket.create_connection((endpoint.hostname, endpoint.port or 443), timeout=timeout).close()
    except OSError as err:
        raise PromptlearnError(
            f"{name!r} is not a local folder and the Hugging Face Hub ({endpoint.hostname}) cannot be "
            f"reached ({err}), so the {what} cannot be downloaded: {advice}."
        ) from err


def is_local_path(name: str, base: Path = Path()) -> bool:
    """Whether ``name`` (relative to ``base``) means a local path rather than a Hub id: it exists, is
    written as a path (``./``, ``../``, ``/``, ``~``), or its parent folder exists (``data/sst2`` beside ``data/``)."""
    path = base / name
    return path.exists() or name.startswith((".", "/", "~")) or (len(Path(name).parts) > 1 and path.parent.is_dir())


def check_local_model(name: str) -> None:
    """Raise when ``name`` is written as a local path but is no model folder; a folder or a Hub id passes."""
    path = Path(name)
    if path.is_dir():
        return
    if path.is_file():
        raise PromptlearnError(
            f"--model takes a folder (config.json, weights and tokenizer files), and {name} is a file: "
            "pass the folder that holds it"
        )
    if is_local_path(name):
        raise PromptlearnError(f"Model folder {name} does not exist")
