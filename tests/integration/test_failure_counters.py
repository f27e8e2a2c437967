"""One behaviour suite for every failure counter: memory, SQLite and PostgreSQL (the last two shared by processes)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from horus.adapters.storage.postgresql import PostgreSQLStorage
from horus.adapters.storage.sqlite import SQLiteStorage
from horus.adapters.throttling.memory import MemoryFailureCounter
from horus.ports.throttling import FailureCounter
from tests.integration.postgresql_databases import ThrowawayPostgreSQLStorage, database_url

WINDOW = 60.0


class Ticker:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0  # the start of a window

    def __call__(self) -> float:
        return self.now


CounterAndClock = tuple[FailureCounter, Ticker]
FailureCounterStorage = SQLiteStorage | PostgreSQLStorage


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def counter_and_clock(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CounterAndClock]:
    ticker = Ticker()
    if request.param == "memory":
        yield MemoryFailureCounter(WINDOW, clock=ticker), ticker
        return
    storage: SQLiteStorage | ThrowawayPostgreSQLStorage = (
        SQLiteStorage(tmp_path / "h.db", WINDOW, clock=ticker)
        if request.param == "sqlite"
        else ThrowawayPostgreSQLStorage(throttle_window=WINDOW, clock=ticker)
    )
    await storage.open()
    try:
        yield storage, ticker
    finally:
        await storage.close()


async def test_failures_are_counted_per_key(counter_and_clock: CounterAndClock) -> None:
    counter, _ = counter_and_clock
    for _ in range(3):
        await counter.record_failure(["client:a", "address:1"])
    await counter.record_failure(["client:b"])
    assert [3.0, 3.0, 1.0, 0.0] == list(await counter.recent_failures(["client:a", "address:1", "client:b", "x"]))


async def test_the_previous_window_fades_out(counter_and_clock: CounterAndClock) -> None:
    counter, ticker = counter_and_clock
    for _ in range(10):
        await counter.record_failure(["k"])
    ticker.now += WINDOW * 1.25
    assert [7.5] == list(await counter.recent_failures(["k"]))
    ticker.now += WINDOW
    assert [0.0] == list(await counter.recent_failures(["k"]))


def two_processes(kind: str, tmp_path: Path, ticker: Ticker) -> tuple[FailureCounterStorage, FailureCounterStorage]:
    """Two storages on one database, as two processes or instances would hold them."""
    if kind == "sqlite":
        return SQLiteStorage(tmp_path / "h.db", WINDOW, ticker), SQLiteStorage(tmp_path / "h.db", WINDOW, ticker)
    first = ThrowawayPostgreSQLStorage(throttle_window=WINDOW, clock=ticker)
    return first, PostgreSQLStorage(database_url(first.database), throttle_window=WINDOW, clock=ticker)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_two_processes_share_one_budget(kind: str, tmp_path: Path) -> None:
    first, second = two_processes(kind, tmp_path, Ticker())
    await first.open()  # the first creates the database the second joins
    await second.open()
    try:
        for _ in range(5):
            await first.record_failure(["client:victim"])
            await second.record_failure(["client:victim"])
        assert [10.0] == list(await first.recent_failures(["client:victim"]))
    finally:
        await second.close()
        await first.close()


async def test_concurrent_failures_on_one_connection_are_all_counted(counter_and_clock: CounterAndClock) -> None:
    import asyncio

    counter, _ = counter_and_clock
    await asyncio.gather(*(counter.record_failure(["client:victim", "address:1"]) for _ in range(20)))
    assert [20.0, 20.0] == list(await counter.recent_failures(["client:victim", "address:1"]))
