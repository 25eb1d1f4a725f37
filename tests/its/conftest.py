"""Fixtures for the ITS tests: a fresh ITS, one booted the way an OS driver boots it, and a
booted one with collections and a device already mapped."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from itsrace.its import (
    MAPC,
    Command,
    GuestDriver,
    Its,
    ItsConfig,
    ItsError,
)

Send = Callable[..., list[ItsError]]


@pytest.fixture
def its() -> Its:
    return Its(ItsConfig(num_cpus=2))


@pytest.fixture
def driver(its: Its) -> GuestDriver:
    """An ITS set up like an OS driver does: tables, queue, LPIs and the ITS enabled."""
    driver = GuestDriver(its)
    driver.setup()
    return driver


@pytest.fixture
def send(driver: GuestDriver) -> Send:
    """Queue commands through the driver; returns the errors they added to the log."""

    def send(*commands: Command) -> list[ItsError]:
        mark = driver.its.errors.mark()
        driver.send(*commands)
        return driver.its.errors.since(mark)

    return send


@pytest.fixture
def booted(driver: GuestDriver, send: Send) -> GuestDriver:
    """Collection 0 -> CPU 0, collection 1 -> CPU 1, device 1 mapped with 32 events,
    LPIs 8192..8199 enabled at priority 0xA0 (and known to the redistributors' caches only
    once they become pending)."""
    assert send(MAPC(icid=0, rdbase=0), MAPC(icid=1, rdbase=1)) == []
    driver.map_device(1, size=4)
    for intid in range(8192, 8200):
        driver.set_property(intid)
    assert len(driver.its.errors) == 0
    return driver
