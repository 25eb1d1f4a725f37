"""The level-2 primitives: names a process body may call (see ``docs/processes.md``).

They exist so that models import and lint cleanly. The translator in
:mod:`itsrace.engine.lang.process_cfg` recognises each call in the source and replaces it; calling one
at run time means a process function was called directly instead of being model-checked, so each
raises :class:`ModelError`. Import them from :mod:`itsrace.engine.lang.process`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from itsrace.engine.errors import ModelError


def _not_translated(name: str) -> ModelError:
    return ModelError(f"{name}() is a process primitive; it runs only inside the checker")


def await_(condition: Any) -> None:
    """Block until ``condition`` holds: the step is enabled only when it does."""
    raise _not_translated("await_")


def choose(values: Iterable[int]) -> int:
    """``x = choose(range(...))``: one successor per (constant) value."""
    raise _not_translated("choose")


def either() -> bool:
    """``if either():``: a non-deterministic branch (both are explored)."""
    raise _not_translated("either")


def spin_lock(lock: Any) -> None:
    """Acquire a spinlock: blocks while another process holds it."""
    raise _not_translated("spin_lock")


def spin_unlock(lock: Any) -> None:
    """Release a spinlock this process holds (else: property ``lock-discipline``)."""
    raise _not_translated("spin_unlock")


def spin_lock_irqsave(lock: Any) -> None:
    """Disable interrupts on this CPU, then acquire the spinlock (spinning with them disabled)."""
    raise _not_translated("spin_lock_irqsave")


def spin_unlock_irqrestore(lock: Any) -> None:
    """Release the spinlock and restore this CPU's interrupt state."""
    raise _not_translated("spin_unlock_irqrestore")


def local_irq_disable() -> None:
    """Mask interrupts on this process's CPU (nests with ``spin_lock_irqsave``)."""
    raise _not_translated("local_irq_disable")


def local_irq_enable() -> None:
    """Undo one ``local_irq_disable``."""
    raise _not_translated("local_irq_enable")


def read_lock(lock: Any) -> None:
    """Take a reader-writer lock for reading: blocks while a writer holds it."""
    raise _not_translated("read_lock")


def read_unlock(lock: Any) -> None:
    """Drop a read hold this process has."""
    raise _not_translated("read_unlock")


def write_lock(lock: Any) -> None:
    """Take a reader-writer lock for writing: blocks while anyone holds it."""
    raise _not_translated("write_lock")


def write_unlock(lock: Any) -> None:
    """Release the write hold this process has."""
    raise _not_translated("write_unlock")


def skip() -> None:
    """A step that does nothing: a point where the process can be preempted."""
    raise _not_translated("skip")


def label(text: str) -> None:
    """Name the next statement's step ``text`` in traces (and make it a step of its own)."""
    raise _not_translated("label")


class _Atomic:
    """``with atomic():`` makes the block a single step."""

    def __enter__(self) -> None:
        raise _not_translated("atomic")

    def __exit__(self, *exc: object) -> None:
        return None


def atomic() -> _Atomic:
    """``with atomic(): ...``: the whole block is one atomic step."""
    return _Atomic()


LOCK_PRIMITIVES = {
    "spin_lock": ("spin", "acquire"),
    "spin_unlock": ("spin", "release"),
    "spin_lock_irqsave": ("spin", "acquire"),
    "spin_unlock_irqrestore": ("spin", "release"),
    "read_lock": ("rw", "acquire"),
    "read_unlock": ("rw", "release"),
    "write_lock": ("rw", "acquire"),
    "write_unlock": ("rw", "release"),
}
IRQ_PRIMITIVES = ("spin_lock_irqsave", "spin_unlock_irqrestore", "local_irq_disable", "local_irq_enable")

PRIMITIVES: dict[str, Any] = {
    f.__name__: f
    for f in (
        await_, choose, either, spin_lock, spin_unlock, spin_lock_irqsave, spin_unlock_irqrestore,
        local_irq_disable, local_irq_enable, read_lock, read_unlock, write_lock, write_unlock,
        skip, label, atomic,
    )
}
