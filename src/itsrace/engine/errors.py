"""Errors the engine raises about models (never about the system being checked).

A :class:`ModelError` always names the model's file and line, so a user can jump to the
problem. Violations of the checked properties are *results*, not exceptions.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ModelError(Exception):
    """A mistake in a model: unknown variable, value outside its domain, unsupported syntax.

    ``where`` is ``"file.py:LINE"`` of the offending model source when known.
    """

    def __init__(self, message: str, where: str | None = None) -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


def known_hint(name: str, known: Iterable[str], limit: int = 12) -> str:
    """``" (did you mean x?)"``, or the known names when there are few: for "unknown ..." errors
    that must stay one readable line however big the model is."""
    names = sorted(known)
    close = difflib.get_close_matches(name, names, n=3)
    if close:
        return f" (did you mean {', '.join(close)}?)"
    if len(names) <= limit:
        return f" (known: {', '.join(names)})"
    return f" ({len(names)} are declared; none is close)"


class SearchInterrupted(Exception):
    """Raised inside the search loop when the user interrupts; the result so far is kept."""
