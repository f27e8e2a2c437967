"""Following other processes' changes: on PostgreSQL pushed (LISTEN/NOTIFY), on SQLite polled; two storages on one
database stand for two instances or workers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from horus.adapters.storage.change_watch import PolledChanges, PushedChanges
from horus.adapters.storage.client_cache import CachedClientRepository
from horus.adapters.storage.postgresql import PostgreSQLStorage
from horus.adapters.storage.sqlite import SQLiteStorage
from horus.domain.client import Client
from tests.fakes import T0
from tests.integration.postgresql_databases import ThrowawayPostgreSQLStorage, database_url

SharedStorage = SQLiteStorage | PostgreSQLStorage


@pytest.fixture(params=["sqlite", "postgresql"])
async def two_storages(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[SharedStorage, SharedStorage]]:
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


def watcher(storage: SharedStorage, cache: CachedClientRepository, heard: Callable[[str, int, int], None]) -> object:
    """How `horus serve` follows changes on each storage; polling (where there is any) set far apart, a minute."""
    if isinstance(storage, PostgreSQLStorage):
        return PushedChanges(storage, storage, cache, heard, reconcile_seconds=60)
    return PolledChanges(storage, cache, 0.2, storage, heard)


async def until(condition: Callable[[], object], within: float) -> float:
    """Seconds until `condition()` holds; fails after `within` seconds."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < within, "not seen in time"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def test_a_client_change_and_a_failure_reach_the_other_process_within_a_second(
    two_storages: tuple[SharedStorage, SharedStorage],
) -> None:
    writer, reader = two_storages
    cache = CachedClientRepository(reader)
    heard: list[tuple[str, int, int]] = []
    watch = asyncio.create_task(watcher(reader, cache, lambda *failure: heard.append(failure)).run())  # type: ignore[attr-defined]
    try:
        await writer.add(Client("svc", "", (), True, "hmac-sha256$00", T0, T0))
        await until(lambda: cache.following, 5)
        cached = await cache.get("svc")
        assert cached is not None
        await writer.update(cached.with_changes(T0, enabled=False))
        seen = []

        async def disabled() -> None:
            client = await cache.get("svc")
            seen.append(client is not None and not client.enabled)

        started = time.monotonic()
        while not (seen and seen[-1]):
            assert time.monotonic() - started < 1.0, "the change did not reach the other process within a second"
            await disabled()
            await asyncio.sleep(0.01)

        await writer.record_failure(["client:victim@10.0.0.1", "address:10.0.0.1"], 7)
        assert await until(lambda: len(heard) >= 2, 1.0) < 1.0
        assert {("client:victim@10.0.0.1", 7, 1), ("address:10.0.0.1", 7, 1)} == set(heard)
    finally:
        watch.cancel()


@pytest.mark.slow
def test_a_client_disabled_through_the_cli_is_refused_by_both_instances_within_a_second(tmp_path: Path) -> None:
    """Issue 18: through notifications, not polling (the revision is read every 25 s here)."""
    from tests.integration.deployments import deployment
    from tests.integration.processes import create_client, run_horus

    with deployment("two instances", tmp_path, HORUS_CLIENT_CACHE_TTL="5") as running:
        client_id, secret = create_client(running.env, tmp_path)
        for server in running.servers:
            for _ in range(2):  # cached on both
                assert 200 == server.request_token(client_id, secret).status_code
        assert 0 == run_horus(["clients", "disable", client_id], running.env, tmp_path).exit_code
        disabled_at = time.monotonic()
        for server in running.servers:
            while server.request_token(client_id, secret).status_code != 401:
                assert time.monotonic() - disabled_at < 1.0, "an instance served a disabled client after a second"
                time.sleep(0.02)
