"""A small line-oriented script language to drive the ITS (``itsrace its run SCRIPT``).

One statement per line; ``#`` starts a comment; numbers take any Python integer notation
(``8192``, ``0x2000``). Statements:

=============================================  ==================================================
``cpus N``                                     number of CPUs (before anything else; default 2)
``config KEY=VALUE ...``                       other :class:`ItsConfig` fields: ``devbits``,
                                               ``idbits``, ``intid_bits``, ``cidbits``,
                                               ``ite_size``, ``pta``, ``hcc`` (before anything else)
``policy ignore|stall``                        command error policy (any time)
``setup [indirect=0|1] [page=4k|16k|64k]``     what an OS driver does at boot: tables, queue,
``      [queue_pages=N]``                      PROPBASER/PENDBASER, EnableLPIs, GITS_CTLR.Enabled
``mem ADDR SIZE``                              back guest memory (for hand-made tables)
``write REG VALUE [size=4|8] [cpu=N] [dev=D]`` register write; REG is a GITS_*/GICR_* name or
                                               an ITS frame offset; GICR_* need ``cpu=``,
                                               GITS_TRANSLATER needs ``dev=``
``read REG [size=4|8] [cpu=N]``                print a register
``cmd NAME FIELD=VALUE ...``                   queue one command, e.g. ``cmd MAPTI dev=1 ev=0
                                               pintid=8192 icid=0``; a MAPD without ``itt=``
                                               gets a freshly allocated ITT
``prop INTID [prio=P] [enable=0|1]``           write an LPI's property byte (after ``setup``)
``msi dev=D ev=E``                             a device's MSI (a GITS_TRANSLATER write)
``ack cpu=N``                                  CPU N acknowledges an LPI (prints it, or 1023)
``eoi cpu=N intid=I``                          CPU N ends an LPI
``retry``                                      write GITS_CWRITER.Retry = 1
``expect ack cpu=N INTID``                     ack, and fail unless it returns INTID
``expect deliverable cpu=N [INTID ...]``       fail unless exactly these LPIs, in this order,
                                               are what CPU N would acknowledge
``expect error NAME``                          fail unless an error NAME (e.g. MAPTI_ID_OOR) was
                                               logged since the previous ``expect error``/
                                               ``expect no-error``
``expect no-error``                            fail if any error was logged since then
``expect read REG VALUE [cpu=N] [size=4|8]``   fail unless the register reads VALUE
``save``                                       snapshot the ITS, redistributors and guest memory
                                               (:meth:`Its.save`, through JSON)
``restore``                                    replace the ITS by a fresh one restored from the
                                               last ``save`` (a migration when it follows the
                                               ``save`` directly)
=============================================  ==================================================

Limits. A script is a regular UTF-8 file of at most 1 MiB; numbers fit in 64 bits; ``cpus``
is at most 256; one ``mem`` backs at most 4 GiB; ``setup queue_pages`` is 1..256. A script
asking for more is refused, with its line, before anything runs (exit status 2). Backing is
lazy, so ``cmd MAPD`` may take any Size the ITS accepts: its ITT costs address space only.

The output has one line per event, prefixed by the script line that caused it: MSIs and where
they went, acknowledged LPIs, register reads, every error the ITS logged, failed expectations,
then a summary. A failed ``expect`` makes :func:`run_script` return 1; ITS errors alone do not.

A statement that cannot be understood raises :class:`ScriptError` (the CLI turns it into
one line and exit status 2); so does one that cannot be carried out (``prop`` before
``setup``, a full command queue).
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TextIO

from itsrace.its.commands import MAPD, CommandSyntaxError, parse_command
from itsrace.its.config import SPURIOUS, ErrorPolicy, ItsConfig
from itsrace.its.driver import DriverError, GuestDriver
from itsrace.its.errors import ErrorCode
from itsrace.its.its import Its
from itsrace.its.memory import PA_LIMIT, MemoryFault
from itsrace.its.registers import GICR_REGISTERS, GITS_TRANSLATER, ITS_FRAME_SIZE, ITS_REGISTERS

MAX_SCRIPT_BYTES = 1 << 20
"""A script file may hold at most 1 MiB; :func:`load_script` reads no more than that (+1)."""
MAX_CPUS = 256
"""``cpus N`` may ask for at most 256 CPUs (``ItsConfig`` itself allows 65536)."""
MAX_MEM_BYTES = 1 << 32
"""One ``mem`` statement may back at most 4 GiB (backing is lazy, but a script has no use
for more, and a typo should not silently map a terabyte)."""
MAX_NUMBER_BITS = 64
"""Every number in a script must fit in 64 bits (no register or field is wider)."""
MAX_COMMAND_SLOTS = 1_000_000
"""A run may make the ITS execute at most a million command-queue slots (a few seconds of
work); a script that drives it further is stopped with :class:`ScriptLimitError`."""
MAX_QUEUE_PAGES = 256
"""``setup queue_pages=N``: GITS_CBASER.Size is 8 bits, so 1..256 pages of 4 KiB."""

CONFIG_KEYS = ("devbits", "idbits", "intid_bits", "cidbits", "ite_size", "pta", "hcc")
PAGE_NAMES = {"4k": 0x1000, "16k": 0x4000, "64k": 0x1_0000}
_CONFIGURING = {"cpus", "config", "policy"}


class ScriptInputError(Exception):
    """A script file that cannot be used at all: not a regular file, too big, not UTF-8.

    ``str()`` is a short reason; the CLI prints ``cannot read FILE: reason``.
    """


def load_script(path: str) -> str:
    """Read a script file safely: a regular file of at most :data:`MAX_SCRIPT_BYTES`, UTF-8.

    Opens without blocking (a FIFO is refused, not waited on), checks the opened file is a
    regular one (``/dev/zero``, a directory or a terminal are refused before reading), and
    reads at most ``MAX_SCRIPT_BYTES + 1`` bytes. Raises :class:`ScriptInputError` with a
    one-line reason, or ``OSError`` when the file cannot be opened.
    """
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(descriptor, "rb") as file:
        mode = os.fstat(file.fileno()).st_mode
        if stat.S_ISDIR(mode):
            raise ScriptInputError("it is a directory; give the path of a script file")
        if not stat.S_ISREG(mode):
            raise ScriptInputError(
                "not a regular file (devices, pipes and sockets are refused; save the "
                "script to a file first)"
            )
        data = file.read(MAX_SCRIPT_BYTES + 1)
    if len(data) > MAX_SCRIPT_BYTES:
        raise ScriptInputError(
            f"larger than {MAX_SCRIPT_BYTES // 1024} KiB, the limit for a script; split it"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScriptInputError(
            f"not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start}); "
            "save the script as UTF-8"
        ) from None


class ScriptError(Exception):
    """A statement that cannot be parsed or carried out. ``str()`` is ``LINE: message``."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"{line}: {message}")
        self.line = line
        self.message = message


class ScriptLimitError(ScriptError):
    """The run reached a work limit (:data:`MAX_COMMAND_SLOTS`); the CLI exits with status 3."""


@dataclass
class ScriptResult:
    """What a run produced."""

    exit_status: int
    acknowledged: list[tuple[int, int]] = field(default_factory=list)
    """(cpu, INTID) of every acknowledge that returned an LPI, in order."""
    failed_expectations: int = 0
    its: Its | None = None


class _Runner:
    """Execution state: the ITS, its driver, and the output."""

    def __init__(self, config: ItsConfig, out: TextIO) -> None:
        self.its = Its(config)
        self.driver = GuestDriver(self.its)
        self.out = out
        self.line = 0
        self.result = ScriptResult(0, its=self.its)
        self.snapshot: str | None = None
        """The last ``save``: the ITS state with guest memory, as JSON text."""
        self.errors_before_restore = 0
        self.commands_before_restore = 0
        self.error_counts: Counter[ErrorCode] = Counter()
        """Errors logged per code at the last ``expect error``/``expect no-error``."""

    def say(self, text: str) -> None:
        print(f"{self.line:>4}  {text}", file=self.out)

    def save(self) -> None:
        self.snapshot = json.dumps(self.its.save(include_memory=True))

    def restore(self) -> None:
        assert self.snapshot is not None  # the parser refuses a restore before any save
        self.errors_before_restore += self.its.errors.recorded
        self.commands_before_restore += self.its.commands_executed
        self.its = Its.restore(json.loads(self.snapshot))
        self.driver.its = self.its
        self.result.its = self.its
        self.error_counts = Counter()

    def fail(self, text: str) -> None:
        self.result.failed_expectations += 1
        self.say(f"FAIL {text}")

    def ack(self, cpu: int) -> int:
        intid = self.its.ack(cpu)
        if intid == SPURIOUS:
            self.say(f"ack cpu={cpu} -> 1023 (nothing to acknowledge)")
        else:
            self.result.acknowledged.append((cpu, intid))
            self.say(f"ack cpu={cpu} -> {intid}")
        return intid


Action = Callable[[_Runner], None]


@dataclass
class _Statement:
    """One script line, split into positional words and ``key=value`` options."""

    line: int
    verb: str
    words: list[str]
    options: dict[str, str]

    def error(self, message: str) -> ScriptError:
        return ScriptError(self.line, message)

    def number(self, text: str, what: str) -> int:
        if len(text) > 80:
            raise self.error(f"{what} must be a number of at most 64 bits, got {text[:20]!r}...")
        try:
            value = int(text, 0)
        except ValueError:
            raise self.error(f"{what} must be a number, got {text!r}") from None
        if abs(value) >> MAX_NUMBER_BITS:
            raise self.error(f"{what} must fit in {MAX_NUMBER_BITS} bits, got {text}")
        return value

    def option(self, key: str, default: int | None = None) -> int:
        if key not in self.options:
            if default is None:
                raise self.error(f"'{self.verb}' needs {key}=")
            return default
        return self.number(self.options[key], key)

    def expect_options(self, *allowed: str) -> None:
        for key in self.options:
            if key not in allowed:
                raise self.error(f"'{self.verb}' has no option {key!r}")

    def expect_words(self, low: int, high: int | None = None) -> None:
        high = low if high is None else high
        if not low <= len(self.words) <= high:
            wanted = str(low) if low == high else f"{low} to {high}"
            raise self.error(f"'{self.verb}' takes {wanted} argument(s), got {len(self.words)}")


class _Parser:
    """Turns lines into actions, checking everything that can be checked before running."""

    def __init__(self) -> None:
        self.config = ItsConfig()
        self.started = False  # a statement other than cpus/config/policy has been seen
        self.saved = False  # a `save` has been seen

    def parse(self, text: str) -> list[tuple[int, Action]]:
        actions: list[tuple[int, Action]] = []
        for number, raw in enumerate(text.splitlines(), start=1):
            statement = _split(number, raw)
            if statement is None:
                continue
            handler = _VERBS.get(statement.verb)
            if handler is None:
                raise statement.error(f"unknown statement {statement.verb!r}")
            action = handler(self, statement)
            if statement.verb not in _CONFIGURING:
                self.started = True
            if action is not None:
                actions.append((number, action))
        return actions

    def cpu(self, statement: _Statement) -> int:
        cpu = statement.option("cpu")
        if not 0 <= cpu < self.config.num_cpus:
            raise statement.error(
                f"cpu={cpu} does not exist (there are {self.config.num_cpus} CPUs)"
            )
        return cpu

    def reconfigure(self, statement: _Statement, **changes: object) -> None:
        if self.started:
            raise statement.error(f"'{statement.verb}' must come before the ITS is used")
        try:
            self.config = replace(self.config, **changes)  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise statement.error(str(exc)) from None


def _split(number: int, raw: str) -> _Statement | None:
    words = raw.split("#", 1)[0].split()
    if not words:
        return None
    positional: list[str] = []
    options: dict[str, str] = {}
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if sep:
            if not key or not value:
                raise ScriptError(number, f"malformed option {word!r}")
            if key.lower() in options:
                raise ScriptError(number, f"option {key}= given twice")
            options[key.lower()] = value
        else:
            positional.append(word)
    return _Statement(number, words[0].lower(), positional, options)


# -- statements --------------------------------------------------------------------------------


def _cpus(parser: _Parser, st: _Statement) -> None:
    st.expect_words(1)
    st.expect_options()
    count = st.number(st.words[0], "the CPU count")
    if count > MAX_CPUS:
        raise st.error(f"cpus {count} is more than a script may ask for (at most {MAX_CPUS})")
    parser.reconfigure(st, num_cpus=count)


def _config(parser: _Parser, st: _Statement) -> None:
    st.expect_words(0)
    st.expect_options(*CONFIG_KEYS)
    changes: dict[str, object] = {key: st.option(key) for key in st.options}
    if "pta" in changes:
        changes["pta"] = bool(changes["pta"])
    parser.reconfigure(st, **changes)


def _policy(parser: _Parser, st: _Statement) -> Action | None:
    st.expect_words(1)
    st.expect_options()
    try:
        policy = ErrorPolicy(st.words[0].lower())
    except ValueError:
        raise st.error(f"policy must be 'ignore' or 'stall', got {st.words[0]!r}") from None
    if not parser.started:
        parser.config = replace(parser.config, error_policy=policy)
        return None

    def run(runner: _Runner) -> None:
        runner.its.policy = policy

    return run


def _setup(parser: _Parser, st: _Statement) -> Action:
    st.expect_words(0)
    st.expect_options("indirect", "page", "queue_pages")
    indirect = bool(st.option("indirect", 0))
    page_text = st.options.get("page", "64k").lower()
    page = PAGE_NAMES.get(page_text) or st.number(page_text, "page")
    if page not in PAGE_NAMES.values():
        raise st.error(f"page size must be one of 4k, 16k, 64k (got {page:#x})")
    queue_pages = st.option("queue_pages", 16)
    if not 1 <= queue_pages <= MAX_QUEUE_PAGES:
        raise st.error(f"queue_pages must be in [1, {MAX_QUEUE_PAGES}], got {queue_pages}")

    def run(runner: _Runner) -> None:
        runner.driver.setup(indirect=indirect, page_size=page, queue_pages=queue_pages)

    return run


def _mem(parser: _Parser, st: _Statement) -> Action:
    st.expect_words(2)
    st.expect_options()
    base = st.number(st.words[0], "the address")
    size = st.number(st.words[1], "the size")
    if size <= 0 or base < 0 or base + size > PA_LIMIT:
        raise st.error(f"cannot back [{base:#x}, +{size:#x}): outside the 52-bit PA space")
    if size > MAX_MEM_BYTES:
        raise st.error(
            f"mem asks for {size:#x} bytes; one mem statement may back at most "
            f"{MAX_MEM_BYTES:#x} (4 GiB): map only what the tables and ITTs need"
        )

    def run(runner: _Runner) -> None:
        runner.its.memory.map(base, size)

    return run


def _register(parser: _Parser, st: _Statement, name: str) -> tuple[int, int, int | None]:
    """Resolve a register name or ITS offset to (offset, size, cpu or None for the ITS)."""
    upper = name.upper()
    if upper in GICR_REGISTERS:
        offset, width = GICR_REGISTERS[upper]
        cpu: int | None = parser.cpu(st)
    elif upper in ITS_REGISTERS:
        offset, width = ITS_REGISTERS[upper]
        cpu = None
    else:
        offset = st.number(name, "the register (a GITS_*/GICR_* name or an offset)")
        if not 0 <= offset < ITS_FRAME_SIZE:
            raise st.error(f"offset {offset:#x} is outside the ITS frames")
        width, cpu = 4, None
    if cpu is None and "cpu" in st.options:
        raise st.error("cpu= only goes with GICR_* registers")
    size = st.option("size", width)
    if size not in (2, 4, 8):
        raise st.error(f"size must be 2, 4 or 8, got {size}")
    return offset, size, cpu


def _write(parser: _Parser, st: _Statement) -> Action:
    st.expect_words(2)
    st.expect_options("size", "cpu", "dev")
    offset, size, cpu = _register(parser, st, st.words[0])
    value = st.number(st.words[1], "the value")
    is_translater = offset == GITS_TRANSLATER and cpu is None
    if "dev" in st.options and not is_translater:
        raise st.error("dev= only goes with GITS_TRANSLATER")
    device = st.option("dev") if is_translater else None

    def run(runner: _Runner) -> None:
        if cpu is None:
            runner.its.write(offset, value, size, device_id=device)
        else:
            runner.its.write_gicr(cpu, offset, value, size)

    return run


def _reader(offset: int, size: int, cpu: int | None) -> Callable[[_Runner], int]:
    def read(runner: _Runner) -> int:
        if cpu is None:
            return runner.its.read(offset, size)
        return runner.its.read_gicr(cpu, offset, size)

    return read


def _read(parser: _Parser, st: _Statement) -> Action:
    st.expect_words(1)
    st.expect_options("size", "cpu")
    name = st.words[0]
    read = _reader(*_register(parser, st, name))

    def run(runner: _Runner) -> None:
        runner.say(f"read {name} = {read(runner):#x}")

    return run


def _cmd(parser: _Parser, st: _Statement) -> Action:
    st.expect_words(1)
    text = " ".join([st.words[0], *(f"{k}={v}" for k, v in st.options.items())])
    wants_itt = st.words[0].upper() == "MAPD" and "itt" not in st.options
    try:
        command = parse_command(text + (" itt=0" if wants_itt else ""))
    except CommandSyntaxError as exc:
        raise st.error(str(exc)) from None
    if isinstance(command, MAPD) and (not command.valid or command.size >= parser.config.idbits):
        # Nothing to allocate: V=0 needs no ITT, and the ITS refuses a Size beyond
        # GITS_TYPER.IDbits (MAPD_ITTSIZE_OOR) before it would ever use one.
        wants_itt = False

    def run(runner: _Runner) -> None:
        to_send = command
        if isinstance(command, MAPD):
            runner.driver.prepare_device(command.device_id)
            if wants_itt:
                to_send = replace(command, itt_addr=runner.driver.alloc_itt(command.size))
        runner.driver.send(to_send)

    return run


def _prop(parser: _Parser, st: _Statement) -> Action:
    st.expect_words(1)
    st.expect_options("prio", "enable")
    intid = st.number(st.words[0], "the INTID")
    priority = st.option("prio", 0xA0)
    enabled = bool(st.option("enable", 1))
    if not 0 <= priority <= 0xFF:
        raise st.error(f"prio must be a byte, got {priority}")

    def run(runner: _Runner) -> None:
        runner.driver.set_property(intid, priority, enabled)

    return run


def _msi(parser: _Parser, st: _Statement) -> Action:
    st.expect_words(0)
    st.expect_options("dev", "ev")
    device, event = st.option("dev"), st.option("ev")

    def run(runner: _Runner) -> None:
        where = runner.its.msi(device, event)
        if where is not None:
            note = (
                "" if where.pending else " (dropped by the redistributor: LPIs off or out of range)"
            )
            runner.say(f"msi dev={device} ev={event} -> LPI {where.intid} on cpu{where.cpu}{note}")

    return run


def _ack(parser: _Parser, st: _Statement) -> Action:
    st.expect_words(0)
    st.expect_options("cpu")
    cpu = parser.cpu(st)

    def run(runner: _Runner) -> None:
        runner.ack(cpu)

    return run


def _eoi(parser: _Parser, st: _Statement) -> Action:
    st.expect_words(0)
    st.expect_options("cpu", "intid")
    cpu, intid = parser.cpu(st), st.option("intid")

    def run(runner: _Runner) -> None:
        if not runner.its.eoi(cpu, intid):
            runner.say(f"eoi cpu={cpu} intid={intid} ignored: not acknowledged on that CPU")

    return run


def _retry(parser: _Parser, st: _Statement) -> Action:
    st.expect_words(0)
    st.expect_options()

    def run(runner: _Runner) -> None:
        runner.driver.retry()

    return run


def _expect(parser: _Parser, st: _Statement) -> Action:
    if not st.words:
        raise st.error("'expect' needs what to check: ack, deliverable, error, no-error or read")
    kind, rest = st.words[0].lower(), st.words[1:]
    checkers = {
        "ack": _expect_ack,
        "deliverable": _expect_deliverable,
        "error": _expect_error,
        "no-error": _expect_no_error,
        "read": _expect_read,
    }
    if kind not in checkers:
        raise st.error(f"unknown expectation {kind!r}")
    return checkers[kind](parser, _Statement(st.line, f"expect {kind}", rest, st.options))


def _expect_ack(parser: _Parser, st: _Statement) -> Action:
    st.expect_words(1)
    st.expect_options("cpu")
    cpu, wanted = parser.cpu(st), st.number(st.words[0], "the INTID")

    def run(runner: _Runner) -> None:
        got = runner.ack(cpu)
        if got != wanted:
            runner.fail(f"expect ack cpu={cpu} {wanted}: got {got}")

    return run


def _expect_deliverable(parser: _Parser, st: _Statement) -> Action:
    st.expect_options("cpu")
    cpu = parser.cpu(st)
    wanted = [st.number(word, "an INTID") for word in st.words]

    def run(runner: _Runner) -> None:
        got = runner.its.deliverable(cpu)
        if got != wanted:
            runner.fail(f"expect deliverable cpu={cpu} {wanted}: got {got}")

    return run


def _expect_error(parser: _Parser, st: _Statement) -> Action:
    st.expect_words(1)
    st.expect_options()
    name = st.words[0].upper()
    if name not in ErrorCode.__members__:
        raise st.error(f"unknown error code {st.words[0]!r}")
    code = ErrorCode[name]

    def run(runner: _Runner) -> None:
        counts = runner.its.errors.counts()
        before, runner.error_counts = runner.error_counts, counts
        if counts[code] <= before[code]:
            runner.fail(f"expect error {name}: not logged")

    return run


def _expect_no_error(parser: _Parser, st: _Statement) -> Action:
    st.expect_words(0)
    st.expect_options()

    def run(runner: _Runner) -> None:
        counts = runner.its.errors.counts()
        before, runner.error_counts = runner.error_counts, counts
        logged = (counts - before).total()
        if logged:
            runner.fail(f"expect no-error: {logged} error(s) logged")

    return run


def _expect_read(parser: _Parser, st: _Statement) -> Action:
    st.expect_words(2)
    st.expect_options("size", "cpu")
    name = st.words[0]
    read = _reader(*_register(parser, st, name))
    wanted = st.number(st.words[1], "the value")

    def run(runner: _Runner) -> None:
        got = read(runner)
        if got != wanted:
            runner.fail(f"expect read {name} {wanted:#x}: got {got:#x}")

    return run


def _save(parser: _Parser, st: _Statement) -> Action:
    st.expect_words(0)
    st.expect_options()
    parser.saved = True

    def run(runner: _Runner) -> None:
        runner.save()
        runner.say("saved the ITS, its redistributors and guest memory")

    return run


def _restore(parser: _Parser, st: _Statement) -> Action:
    st.expect_words(0)
    st.expect_options()
    if not parser.saved:
        raise st.error("'restore' needs an earlier 'save'")

    def run(runner: _Runner) -> None:
        runner.restore()
        runner.say("restored the last save into a fresh ITS (its error log starts empty)")

    return run


_VERBS: dict[str, Callable[[_Parser, _Statement], Action | None]] = {
    "cpus": _cpus,
    "config": _config,
    "policy": _policy,
    "setup": _setup,
    "mem": _mem,
    "write": _write,
    "read": _read,
    "cmd": _cmd,
    "prop": _prop,
    "msi": _msi,
    "ack": _ack,
    "eoi": _eoi,
    "retry": _retry,
    "expect": _expect,
    "save": _save,
    "restore": _restore,
}


# -- running -----------------------------------------------------------------------------------


def run_script(
    text: str, out: TextIO | None = None, *, max_commands: int | None = None
) -> ScriptResult:
    """Parse and run a script, printing its events to ``out`` (stdout by default).

    Returns a :class:`ScriptResult` whose ``exit_status`` is 0, or 1 if an ``expect`` failed.
    Raises :class:`ScriptError` for a statement that cannot be parsed (before anything runs)
    or carried out, and :class:`ScriptLimitError` (after printing what ran) once the ITS has
    executed more than ``max_commands`` queue slots (default :data:`MAX_COMMAND_SLOTS`).
    """
    budget = MAX_COMMAND_SLOTS if max_commands is None else max_commands
    out = sys.stdout if out is None else out
    parser = _Parser()
    actions = parser.parse(text)
    runner = _Runner(parser.config, out)
    for line, action in actions:
        runner.line = line
        log = runner.its.errors
        mark = log.mark()
        try:
            action(runner)
        except (DriverError, MemoryFault, ValueError) as exc:
            raise ScriptError(line, str(exc)) from None
        if runner.its.errors is not log:
            mark = 0  # restored: a new, empty log
        shown = runner.its.errors.since(mark)
        missed = runner.its.errors.mark() - mark - len(shown)
        if missed:
            runner.say(
                f"... {missed} earlier error(s) of this line not shown "
                f"(the error log keeps the last {runner.its.errors.limit})"
            )
        for error in shown:
            runner.say(f"error {error}")
        executed = runner.commands_before_restore + runner.its.commands_executed
        if executed > budget:
            raise ScriptLimitError(
                line,
                f"limit: the script made the ITS execute {executed} command slots, more than "
                f"the {budget} a script may; queue fewer commands (an unbacked or "
                "wrapping queue runs up to 32768 slots per GITS_CWRITER write)",
            )
    result = runner.result
    failed = result.failed_expectations
    print(
        f"summary: {len(result.acknowledged)} LPI(s) acknowledged, "
        f"{runner.errors_before_restore + runner.its.errors.recorded} error(s) logged, {failed} expectation(s) failed",
        file=out,
    )
    result.exit_status = 1 if failed else 0
    return result
