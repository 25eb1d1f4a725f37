"""Save and restore: an ITS restored from a save continues exactly as the saved one would.

The property test runs the fuzzer's random register/command/MSI/ack stream twice: once
straight through, and once with a save at a random step, a JSON round trip and a restore
into a fresh emulator on a copy of guest memory. Everything observable must then be equal:
registers, pending and deliverable LPIs, the property caches, outstanding acknowledges, guest
memory, the errors logged after the save and the LPIs acknowledged.

Then the three kvm-unit-tests migration tests (arm/gic.c), written against the emulator.
"""

from __future__ import annotations

import json
import random

import pytest
from test_its_fuzz import NUM_CPUS, Fuzzer, RecordingMemory

from itsrace.its import (
    INT,
    INV,
    MAPC,
    MAPD,
    MAPTI,
    ErrorCode,
    ErrorPolicy,
    GuestDriver,
    GuestMemory,
    Its,
    ItsConfig,
    run_script,
)
from itsrace.its.its import SAVE_FORMAT
from itsrace.its.registers import (
    GICR_CTLR,
    GICR_PENDBASER,
    GICR_PROPBASER,
    GITS_BASER0,
    GITS_CBASER,
    GITS_CREADR,
    GITS_CTLR,
    GITS_CWRITER,
    GITS_TYPER,
)


def migrate(its: Its) -> Its:
    """What a VMM does: save, ship as JSON, restore into a fresh emulator."""
    return Its.restore(json.loads(json.dumps(its.save(include_memory=True))))


def observe(its: Its) -> dict[str, object]:
    """Everything a guest or a test can see, without side effects."""
    registers = [its.read(offset) for offset in (GITS_TYPER, GITS_CBASER, GITS_CWRITER)]
    registers += [its.read(GITS_CTLR, 4), its.read(GITS_CREADR)]
    registers += [its.read(GITS_BASER0 + 8 * n) for n in range(8)]
    cpus = []
    for cpu in range(its.config.num_cpus):
        rd = its.redistributors[cpu]
        cpus.append(
            (
                [its.read_gicr(cpu, reg) for reg in (GICR_PROPBASER, GICR_PENDBASER)],
                its.read_gicr(cpu, GICR_CTLR, 4),
                its.pending(cpu),
                its.deliverable(cpu),
                rd.cached_properties(),
                list(its.cpus[cpu].outstanding),
            )
        )
    return {
        "registers": registers,
        "policy": its.policy,
        "cpus": cpus,
        "backed": its.memory.backed_ranges(),
        "pages": list(its.memory.pages()),
    }


@pytest.mark.parametrize("seed", range(10))
def test_save_restore_continue_equals_an_uninterrupted_run(seed: int) -> None:
    steps = 160
    at = random.Random(seed * 7919).randrange(steps)
    straight, resumed = Fuzzer(random.Random(seed)), Fuzzer(random.Random(seed))
    for _ in range(at):
        straight.step()
        resumed.step()
    mark, counts = straight.its.errors.mark(), straight.its.errors.counts()

    state = json.loads(json.dumps(resumed.its.save(include_memory=True)))
    memory = RecordingMemory.restore(state["memory"])
    resumed.its = Its.restore(state, memory)
    resumed.memory = memory
    assert observe(resumed.its) == observe(straight.its)

    for _ in range(steps - at):
        straight.step()
        resumed.step()
    assert observe(resumed.its) == observe(straight.its)
    assert [str(e) for e in resumed.its.errors] == [str(e) for e in straight.its.errors.since(mark)]
    assert resumed.its.errors.counts() == straight.its.errors.counts() - counts
    assert resumed.acknowledged == straight.acknowledged


def test_the_property_test_would_notice_a_lost_property_cache() -> None:
    """Sanity check of the comparison: dropping hidden state on restore is caught."""
    its = Its(ItsConfig(num_cpus=1))
    driver = GuestDriver(its)
    driver.setup()
    driver.send(MAPC(icid=0, rdbase=0))
    driver.map_device(1, size=1)
    driver.set_property(8192)
    driver.send(MAPTI(device_id=1, event_id=0, pintid=8192, icid=0))
    its.msi(1, 0)
    driver.set_property(8192, enabled=False)  # no INV: the cached copy still enables it
    state = its.save(include_memory=True)
    state["redistributors"][0]["properties"] = []  # type: ignore[index]
    state["redistributors"][0]["pending"] = []  # type: ignore[index]
    assert observe(Its.restore(state)) != observe(its)
    assert observe(migrate(its)) == observe(its)


def test_a_save_of_a_restore_is_the_same_save() -> None:
    fuzzer = Fuzzer(random.Random(3))
    for _ in range(100):
        fuzzer.step()
    state = fuzzer.its.save(include_memory=True)
    assert Its.restore(state).save(include_memory=True) == state
    assert state["format"] == SAVE_FORMAT
    assert len(state["redistributors"]) == NUM_CPUS  # type: ignore[arg-type]


def test_a_stalled_queue_stays_stalled_with_creadr_and_cwriter() -> None:
    its = Its(ItsConfig(num_cpus=2, error_policy=ErrorPolicy.STALL))
    driver = GuestDriver(its)
    driver.setup()
    its.memory.write_bytes(its.queue.base, MAPC(icid=0, rdbase=7).encode())
    its.memory.write_bytes(its.queue.base + 32, MAPC(icid=0, rdbase=1).encode())
    its.write(GITS_CWRITER, 64)
    assert its.stalled and its.read(GITS_CREADR) == 1
    restored = migrate(its)
    assert restored.stalled and restored.read(GITS_CREADR) == 1
    assert restored.read(GITS_CWRITER) == 64 and restored.policy is ErrorPolicy.STALL
    restored.memory.write_bytes(restored.queue.base, MAPC(icid=0, rdbase=0).encode())
    restored.write(GITS_CWRITER, 64 | 1)  # Retry: the fixed command and the next one run
    assert not restored.stalled and restored.read(GITS_CREADR) == 64
    assert restored.lookup(0, 0) is None and restored.errors.codes() == []


def test_restore_takes_separately_restored_memory() -> None:
    its = Its(ItsConfig(num_cpus=1, hcc=2))
    GuestDriver(its).setup()
    its.execute(MAPC(icid=1, rdbase=0))  # a collection held in the ITS, not in memory
    state = its.save()
    assert "memory" not in state
    with pytest.raises(ValueError, match="no memory"):
        Its.restore(state)
    restored = Its.restore(state, GuestMemory.restore(its.memory.save()))
    assert restored.save() == state


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: s.update(format="other/9"), "format"),
        (lambda s: s["config"].update(num_cpus=0), "num_cpus"),
        (lambda s: s["config"].update(colour=1), "config"),
        (lambda s: s.update(policy="sometimes"), "sometimes"),
        (lambda s: s["its"].update(creadr=0x10_0000), "creadr"),
        (lambda s: s["its"].update(cwriter=-1), "cwriter"),
        (lambda s: s["its"].update(stalled=1), "stalled"),
        (lambda s: s["its"].update(basers=[0]), "basers"),
        (lambda s: s["its"].update(held_collections=[[5, 0]]), "held collection"),
        (lambda s: s.update(redistributors=[]), "redistributors"),
        (lambda s: s["redistributors"][0].update(pending=[8192]), "pending INTID 8192"),
        (lambda s: s["redistributors"][0].update(properties=[[1, 2]]), "property"),
        (lambda s: s["redistributors"][0].update(outstanding=None), "outstanding"),
        (lambda s: s["memory"].update(pages=[[0x1001, "00"]]), "memory page"),
        (lambda s: s["memory"].update(ranges=[[5, 1]]), "memory range"),
        (lambda s: s.update(memory=[]), "memory"),
    ],
)
def test_a_malformed_save_is_refused_with_a_reason(mutate: object, message: str) -> None:
    its = Its(ItsConfig(num_cpus=1))
    GuestDriver(its).setup()
    state = json.loads(json.dumps(its.save(include_memory=True)))
    mutate(state)  # type: ignore[operator]
    with pytest.raises(ValueError, match=message):
        Its.restore(state)


# -- kvm-unit-tests arm/gic.c migration tests --------------------------------------------------


def booted(num_cpus: int = 4) -> tuple[Its, GuestDriver]:
    its = Its(ItsConfig(num_cpus=num_cpus))
    driver = GuestDriver(its)
    driver.setup()
    return its, driver


def test_its_migration() -> None:
    """its-migration: LPIs mapped before the migration are still delivered after it."""
    its, driver = booted()
    driver.send(MAPC(icid=3, rdbase=3), MAPC(icid=2, rdbase=2))
    driver.map_device(2, size=1)
    driver.map_device(7, size=1)
    for intid in (8195, 8196):
        driver.set_property(intid)
    driver.send(
        MAPTI(device_id=2, event_id=20 % 4, pintid=8195, icid=3),
        MAPTI(device_id=7, event_id=255 % 4, pintid=8196, icid=2),
    )
    its = migrate(its)
    driver.its = its
    assert its.msi(2, 0) is not None and its.msi(7, 3) is not None
    assert (its.ack(3), its.ack(2)) == (8195, 8196)
    driver.send(INT(device_id=2, event_id=0))  # the command queue works after migration too
    assert its.ack(3) == 8195 and its.errors.codes() == []


def test_its_migrate_unmapped_collection() -> None:
    """its-migrate-unmapped-collection: an LPI mapped to a collection that is not mapped yet;
    after the migration, MAPC, and the LPI is delivered."""
    its, driver = booted()
    driver.map_device(2, size=1)
    driver.set_property(8192)
    driver.send(MAPTI(device_id=2, event_id=0, pintid=8192, icid=5))
    driver.send(INT(device_id=2, event_id=0))
    assert its.errors.codes() == [ErrorCode.INT_UNMAPPED_COLLECTION]
    its = migrate(its)
    driver.its = its
    driver.send(MAPC(icid=5, rdbase=1), INT(device_id=2, event_id=0))
    assert its.errors.codes() == [] and its.ack(1) == 8192


@pytest.mark.parametrize("enable_after_migration", [False, True])
def test_its_pending_migration(enable_after_migration: bool) -> None:
    """its-pending-migration: LPIs pending at the save are delivered after the restore.

    With ``enable_after_migration`` the guest fills the pending tables itself with
    EnableLPIs clear (as kvm-unit-tests does) and enables LPIs only after the restore."""
    its, driver = booted(num_cpus=2)
    assert driver.layout is not None
    driver.map_device(1, size=7)
    driver.send(MAPC(icid=0, rdbase=0), MAPC(icid=1, rdbase=1))
    lpis = {cpu: [8192 + 256 * cpu + n for n in range(128)] for cpu in range(2)}
    for cpu, intids in lpis.items():
        for n, intid in enumerate(intids):
            driver.set_property(intid, priority=0xA0 - 4 * (n % 3))
            event = 128 * cpu + n if n < 64 else None
            if event is not None and event < 256:
                driver.send(MAPTI(device_id=1, event_id=event, pintid=intid, icid=cpu))
    if enable_after_migration:
        for cpu, intids in lpis.items():
            its.write_gicr(cpu, GICR_CTLR, 0, 4)
            table = driver.layout.pending_tables[cpu]
            for intid in intids:
                its.memory.write8(
                    table + intid // 8, its.memory.read8(table + intid // 8) | 1 << intid % 8
                )
    else:
        for cpu, intids in lpis.items():
            for intid in intids:
                its.redistributors[cpu].set_pending(intid)
        its.msi(1, 0)  # already pending: no change
    its = migrate(its)
    if enable_after_migration:
        for cpu in lpis:
            pendbaser = its.read_gicr(cpu, GICR_PENDBASER)
            its.write_gicr(cpu, GICR_PENDBASER, pendbaser)  # PTZ clear: read the table
            its.write_gicr(cpu, GICR_CTLR, 1, 4)
    for cpu, intids in lpis.items():
        taken = []
        while (intid := its.ack(cpu)) != 1023:
            taken.append(intid)
        assert sorted(taken) == intids
        assert taken == sorted(intids, key=lambda i: (0xA0 - 4 * ((i - 8192) % 256 % 3), i))
    assert its.errors.codes() == []


def test_the_script_save_and_restore_directives_migrate() -> None:
    script = """
        setup
        cmd MAPC icid=0 rdbase=1
        cmd MAPD dev=1 size=1
        prop 8192
        prop 8193 prio=0x10
        cmd MAPTI dev=1 ev=0 pintid=8192 icid=0
        cmd MAPTI dev=1 ev=1 pintid=8193 icid=0
        msi dev=1 ev=0
        msi dev=1 ev=1
        cmd INT dev=9 ev=0
        save
        restore
        expect deliverable cpu=1 8193 8192
        cmd INT dev=9 ev=0
        expect error INT_UNMAPPED_DEVICE
        expect ack cpu=1 8193
        save
        msi dev=1 ev=1
        restore
        expect ack cpu=1 8192
        expect ack cpu=1 1023
        """
    import io

    out = io.StringIO()
    result = run_script(script, out)
    assert result.exit_status == 0, out.getvalue()
    assert "restored the last save" in out.getvalue()
    assert out.getvalue().splitlines()[-1].startswith("summary: 2 LPI(s) acknowledged, 2 error(s)")


def test_restore_before_save_is_a_script_error() -> None:
    from itsrace.its import ScriptError

    with pytest.raises(ScriptError, match="'restore' needs an earlier 'save'"):
        run_script("setup\nrestore\nsave\n")


def test_mapd_fields_survive_in_memory() -> None:
    its, driver = booted(num_cpus=1)
    itt = driver.alloc_itt(3)
    driver.send(MAPD(device_id=4, size=3, itt_addr=itt), MAPC(icid=0, rdbase=0))
    driver.set_property(8200)
    driver.send(MAPTI(device_id=4, event_id=15, pintid=8200, icid=0), INV(device_id=4, event_id=15))
    assert migrate(its).lookup(4, 15) == its.lookup(4, 15) != None  # noqa: E711


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(100, 160))
def test_save_restore_long(seed: int) -> None:
    """Longer streams with several migrations on the way."""
    rng = random.Random(seed * 31)
    steps = 1500
    stops = sorted(rng.sample(range(steps), 3))
    straight, resumed = Fuzzer(random.Random(seed)), Fuzzer(random.Random(seed))
    for step in range(steps):
        if step in stops:
            state = json.loads(json.dumps(resumed.its.save(include_memory=True)))
            resumed.memory = RecordingMemory.restore(state["memory"])
            resumed.its = Its.restore(state, resumed.memory)
        straight.step()
        resumed.step()
    assert observe(resumed.its) == observe(straight.its)
    assert resumed.acknowledged == straight.acknowledged
