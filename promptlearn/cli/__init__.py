"""The ``promptlearn`` command: parses options, builds a config once, calls the Python API."""

from promptlearn.cli.commands import app, handle_errors


def main() -> None:
    app()


__all__ = ["app", "handle_errors", "main"]
