"""Throttling shared through the database: the SQL storages' counts, and SharedAdmission over two storages on one
database, as two processes or instances hold them."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from horus.adapters.storage.postgresql import PostgreSQLStorage
from horus.adapters.storage.sqlite import SQLiteStorage
from horus.adapters.throttling.shared import SharedAdmission
from horus.domain.errors import TooManyAttempts
from horus.domain.throttling import ThrottlePolicy, throttle_keys
from tests.fakes import Ticker
from tests.integration.postgresql_databases import ThrowawayPostgreSQLStorage, database_url

WINDOW = 60.0
POLICY = ThrottlePolicy(client_failures=10, client_global_failures=100, address_failures=30)
SharedStorage = SQLiteStorage | PostgreSQLStorage


@pytest.fixture(params=["sqlite", "postgresql"])
async def two_storages(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[SharedStorage, ...]]:
    """Two storages on one database; the first creates it, the second joins."""
    if request.param == "sqlite":
        first: SharedStorage = SQLiteStorage(tmp_path / "h.db")
        second: SharedStorage = SQLiteStorage(tmp_path / "h.db")
    else:
        throwaway = ThrowawayPostgreSQLStorage()
        first, second = throwaway, PostgreSQLStorage(database_url(throwaway.database))
    await first.open()
    await second.open()
    try:
        yield first, second
    finally:
        await second.close()
        await first.close()


async def test_reservations_and_failures_are_counted_per_key_and_window(
    two_storages: tuple[SharedStorage, ...],
) -> None:
    first, second = two_storages
    assert [(0, 1, 0), (0, 1, 0)] == list(await first.reserve_attempt(["a", "b"], 7))
    assert [(0, 2, 0)] == list(await second.reserve_attempt(["a"], 7))
    await first.end_attempt(["a", "b"], 7, failed=True)
    await second.end_attempt(["a"], 7, failed=False)
    assert [(1, 0, 0), (1, 0, 0), (0, 0, 0)] == list(await second.attempt_counts(["a", "b", "c"], 7))
    assert [(0, 1, 1)] == list(await second.reserve_attempt(["a"], 8))  # the window before is read too


async def test_concurrent_reservations_are_all_counted(two_storages: tuple[SharedStorage, ...]) -> None:
    first, second = two_storages
    await asyncio.gather(*(storage.reserve_attempt(["k", "address:1"], 3) for storage in (first, second) * 20))
    assert [(0, 40, 0), (0, 40, 0)] == list(await first.attempt_counts(["k", "address:1"], 3))


async def guesses_verified(two_storages: tuple[SharedStorage, ...], client_ids: list[str]) -> int:
    admissions = [SharedAdmission(storage, WINDOW, clock=Ticker(1_800_000_000.0)) for storage in two_storages]
    verified = 0

    async def guess(index: int, client_id: str) -> None:
        nonlocal verified
        with contextlib.suppress(TooManyAttempts):
            async with admissions[index % 2].attempt(throttle_keys(POLICY, client_id, "10.0.0.1")) as attempt:
                verified += 1
                await asyncio.sleep(random.uniform(0, 0.003))
                await attempt.failed()

    await asyncio.gather(*(guess(index, client_id) for index, client_id in enumerate(client_ids)))
    return verified


async def test_a_burst_over_two_processes_passes_the_budget_by_at_most_one(
    two_storages: tuple[SharedStorage, ...],
) -> None:
    assert await guesses_verified(two_storages, ["victim"] * 200) in (10, 11)


async def test_a_burst_over_many_ids_and_two_processes_passes_the_address_budget_by_at_most_one(
    two_storages: tuple[SharedStorage, ...],
) -> None:
    assert await guesses_verified(two_storages, [f"id-{index}" for index in range(300)]) in (30, 31)
