"""Reading the files a user hands the checker (scenarios, traces, checkpoints' headers) safely:
a regular file, of bounded size, in UTF-8, or one clear line saying what is wrong.

A path that names a device (``/dev/zero``), a FIFO or a directory is refused before anything is
read, and no more than ``limit`` bytes are ever read, so a wrong argument cannot exhaust memory
or hang the command.
"""

from __future__ import annotations

import os
import stat

MIB = 1 << 20


class InputFileError(ValueError):
    """A user file cannot be used; ``str()`` is one line naming the file."""


def read_text_file(path: str | os.PathLike[str], what: str, limit: int = 16 * MIB) -> str:
    """The text of ``path`` (a ``what``: "scenario", "trace", ...), or InputFileError."""
    shown = os.fspath(path)
    try:
        st = os.stat(shown)
    except OSError as exc:
        raise InputFileError(f"cannot read {what} '{shown}': {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise InputFileError(f"cannot read {what} '{shown}': {kind}")
    if st.st_size > limit:
        raise InputFileError(f"{what} '{shown}' is {st.st_size:,} bytes; at most {limit:,} are read")
    try:
        with open(shown, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise InputFileError(f"cannot read {what} '{shown}': {exc.strerror or exc}") from None
    if len(data) > limit:
        raise InputFileError(f"{what} '{shown}' is larger than {limit:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{what} '{shown}' is not UTF-8 text (byte {exc.start})") from None


__all__ = ["MIB", "InputFileError", "read_text_file"]
