"""Issue 14 measurements for the ITS emulator (a benchmark, not a test).

Usage: python examples/its/bench_hardening.py ack|enable|errlog [notrace]

ack     16 384 LPIs pending on one CPU (priorities spread over 64 levels), drained with ack.
enable  24 INTID bits, property table all enabled, pending table all ones, EnableLPIs 0->1
        without PTZ; time, tracemalloc peak (unless notrace) and max RSS.
errlog  an unbacked 1 MiB command queue, 60 GITS_CWRITER writes alternating 0x80000 and 0
        (16 384 COMMAND_FAULTs each); time and traced memory (unless notrace).

Run under /usr/bin/time -f "%e s %M KiB" for the process's peak RSS.
"""
import resource, sys, time, tracemalloc
from itsrace.its import Its, ItsConfig, GuestDriver, MAPC, MAPD, MAPTI, INT, INVALL
from itsrace.its.registers import GICR_CTLR, GICR_PENDBASER, GICR_PROPBASER, GITS_CBASER, GITS_CWRITER, GITS_CTLR, CBASER_VALID

def ack():
    # 16 K pending LPIs on CPU 0 (all enabled), then drain with acknowledge.
    its = Its(ItsConfig(num_cpus=1, intid_bits=16))
    d = GuestDriver(its); d.setup()
    n = 16384
    d.map_device(1, size=13)
    cmds = [MAPC(icid=0, rdbase=0)]
    for i in range(n):
        d.set_property(8192 + i, priority=(i * 7) % 256)
    for i in range(n):
        cmds.append(MAPTI(device_id=1, event_id=i, pintid=8192 + i, icid=0))
    for i in range(0, len(cmds), 1000):
        d.send(*cmds[i:i+1000])
    for i in range(n):
        its.msi(1, i)
    assert len(its.pending(0)) == n
    t = time.perf_counter()
    got = 0
    while its.ack(0) != 1023:
        got += 1
    dt = time.perf_counter() - t
    print(f"ack: drained {got} pending LPIs in {dt:.3f} s")

def enable():
    # 24 INTID bits, property table all enabled, pending table all ones, EnableLPIs 0->1 without PTZ.
    its = Its(ItsConfig(num_cpus=1, intid_bits=24))
    prop, pend = 0x1000_0000, 0x2000_0000
    psize = (1 << 24) - 8192
    its.memory.map(prop, psize); its.memory.map(pend, (1 << 24) // 8)
    its.memory.write_bytes(prop, b"\xa3" * psize)
    its.memory.write_bytes(pend, b"\xff" * ((1 << 24) // 8))
    its.write_gicr(0, GICR_PROPBASER, prop | 23)
    its.write_gicr(0, GICR_PENDBASER, pend)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    trace = "notrace" not in sys.argv
    if trace: tracemalloc.start()
    t = time.perf_counter()
    its.write_gicr(0, GICR_CTLR, 1, 4)
    dt = time.perf_counter() - t
    cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"enable: EnableLPIs at 24 bits, full pending table: {dt:.2f} s, traced peak {peak/2**20:.0f} MiB, "
          f"retained {cur/2**20:.0f} MiB, max RSS {rss/1024:.0f} MiB (before enable {base_rss/1024:.0f} MiB)")
    t = time.perf_counter(); first = its.ack(0); print(f"  first ack {first} in {time.perf_counter()-t:.4f} s")

def errlog():
    # A valid but unbacked 1 MiB queue; 60 CWRITER writes.
    its = Its(ItsConfig(num_cpus=1))
    its.write(GITS_CBASER, CBASER_VALID | 0x4000_0000 | 255)
    its.write(GITS_CTLR, 1, 4)
    trace = "notrace" not in sys.argv
    if trace: tracemalloc.start()
    t = time.perf_counter()
    for i in range(60):
        its.write(GITS_CWRITER, ((i + 1) * 0x80000) % 0x100000)
    dt = time.perf_counter() - t
    cur, peak = tracemalloc.get_traced_memory()
    log = its.errors
    print(f"errlog: 60 CWRITER writes: {dt:.2f} s, {getattr(log, 'recorded', len(log))} errors recorded, "
          f"{len(log)} kept, log memory {cur/2**20:.1f} MiB (peak {peak/2**20:.1f} MiB)")

{"ack": ack, "enable": enable, "errlog": errlog}[sys.argv[1]]()
