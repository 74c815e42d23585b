"""Exceptions that carry a message a user can act on.

The CLI prints `TfgenError` messages as one line (exit 1) and never a traceback.
"""


class TfgenError(Exception):
    """A runtime failure the user can fix: the message says what was wrong and what to do."""


class TfgenUsageError(TfgenError, ValueError):
    """Bad arguments or input (the CLI exits with code 2)."""
