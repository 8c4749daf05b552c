"""The one exception type users see: a message that says what was wrong and how to fix it."""


class PromptlearnError(ValueError):
    """Bad input or configuration. The CLI prints the message and exits with status 2."""
