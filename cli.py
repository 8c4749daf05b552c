"""The ``promptlearn`` command from a checkout: ``python cli.py ...`` (installed: promptlearn.cli:main)."""

from promptlearn.cli import app, main  # noqa: F401 (`from cli import app` keeps working)

if __name__ == "__main__":
    main()
