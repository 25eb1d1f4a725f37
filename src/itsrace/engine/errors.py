"""Errors the engine raises about models (never about the system being checked).

A :class:`ModelError` always names the model's file and line, so a user can jump to the
problem. Violations of the checked properties are *results*, not exceptions.
"""

from __future__ import annotations


class ModelError(Exception):
    """A mistake in a model: unknown variable, value outside its domain, unsupported syntax.

    ``where`` is ``"file.py:LINE"`` of the offending model source when known.
    """

    def __init__(self, message: str, where: str | None = None) -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class SearchInterrupted(Exception):
    """Raised inside the search loop when the user interrupts; the result so far is kept."""
