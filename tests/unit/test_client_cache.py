"""The client cache and the watcher that keeps it in step with changes made elsewhere (SQLite and memory: polled)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from horus.adapters.storage.change_watch import PolledChanges
from horus.adapters.storage.client_cache import CachedClientRepository
from horus.adapters.storage.memory import MemoryStorage
from horus.adapters.throttling.memory import MemoryAdmission
from horus.domain.authentication import ClientAuthenticator
from horus.domain.client import Client
from horus.domain.errors import InvalidClient, StorageUnavailable
from horus.domain.throttling import ThrottlePolicy
from tests.fakes import T0, RecordingHasher, Ticker


@dataclass
class CountingStorage(MemoryStorage):
    reads: list[str] = field(default_factory=list)
    revision_fails: bool = False
    during_next_read: Callable[[], Awaitable[None]] | None = None

    def __post_init__(self) -> None:
        MemoryStorage.__init__(self)

    async def get(self, client_id: str, fresh: bool = False) -> Client | None:
        self.reads.append(client_id)
        found = await MemoryStorage.get(self, client_id, fresh)
        if self.during_next_read is not None:
            during, self.during_next_read = self.during_next_read, None
            await during()
        return found

    async def client_revision(self) -> int:
        if self.revision_fails:
            raise StorageUnavailable()
        return await MemoryStorage.client_revision(self)


def client(client_id: str = "svc", enabled: bool = True) -> Client:
    return Client(client_id, "", (), enabled, "hmac-sha256$00", T0, T0)


def following(storage: CountingStorage, cache: CachedClientRepository) -> asyncio.Task[None]:
    """A watcher polling every 10 ms, as `horus serve` runs one in the background."""
    return asyncio.create_task(PolledChanges(storage, cache, 0.01).run())


async def settled() -> None:
    await asyncio.sleep(0.05)  # several polls


@pytest.fixture
async def watched() -> tuple[CountingStorage, CachedClientRepository]:
    storage = CountingStorage()
    cache = CachedClientRepository(storage)
    watcher = following(storage, cache)
    await settled()
    yield storage, cache  # type: ignore[misc]
    watcher.cancel()


async def test_hot_clients_are_read_once_while_no_client_changes(
    watched: tuple[CountingStorage, CachedClientRepository],
) -> None:
    storage, cache = watched
    await storage.add(client())
    await settled()
    for _ in range(100):
        assert (await cache.get("svc")) is not None
    assert ["svc"] == storage.reads


async def test_a_change_made_elsewhere_is_seen_once_the_watcher_reads_the_revision(
    watched: tuple[CountingStorage, CachedClientRepository],
) -> None:
    storage, cache = watched
    await storage.add(client())
    await settled()
    assert (await cache.get("svc")).enabled  # type: ignore[union-attr]
    await storage.update(client(enabled=False))  # another process
    await settled()
    assert not (await cache.get("svc")).enabled  # type: ignore[union-attr]


async def test_until_the_watcher_follows_the_changes_every_look_reads_the_storage() -> None:
    storage = CountingStorage()
    cache = CachedClientRepository(storage)
    for _ in range(3):
        await cache.get("svc")
    assert ["svc"] * 3 == storage.reads


async def test_an_unreadable_revision_suspends_the_cache_so_requests_fail_closed(
    watched: tuple[CountingStorage, CachedClientRepository],
) -> None:
    storage, cache = watched
    await storage.add(client())
    await cache.get("svc")
    storage.revision_fails = True
    await settled()
    await cache.get("svc")
    assert ["svc", "svc"] == storage.reads  # read again: the cache is off while changes cannot be followed
    storage.revision_fails = False
    await settled()
    await cache.get("svc")
    await cache.get("svc")
    assert ["svc", "svc", "svc"] == storage.reads  # on again, from a fresh read


async def test_entries_are_read_again_after_the_max_age_even_without_a_change() -> None:
    storage, ticker = CountingStorage(), Ticker()
    cache = CachedClientRepository(storage, clock=ticker, max_age_seconds=60)
    cache.resume()
    await storage.add(client())
    await cache.get("svc")
    ticker.now += 61
    await cache.get("svc")
    assert ["svc", "svc"] == storage.reads


async def test_entries_read_together_do_not_all_expire_together() -> None:
    storage, ticker = CountingStorage(), Ticker()
    cache = CachedClientRepository(storage, clock=ticker, max_age_seconds=60)
    cache.resume()
    for index in range(200):
        await storage.add(client(f"c{index}"))
        await cache.get(f"c{index}")
    ticker.now += 45  # between half the max age and all of it: some expired, some not
    storage.reads.clear()
    for index in range(200):
        await cache.get(f"c{index}")
    assert 20 < len(storage.reads) < 180


async def test_a_change_seen_during_a_read_outdates_what_that_read_returned() -> None:
    storage = CountingStorage()
    cache = CachedClientRepository(storage)
    cache.resume()
    await storage.add(client())

    async def changed_meanwhile() -> None:
        cache.invalidate("svc")  # the watcher heard of a change while the storage answered

    storage.during_next_read = changed_meanwhile
    await cache.get("svc")
    await cache.get("svc")
    assert ["svc", "svc"] == storage.reads


async def test_changes_through_the_cache_are_seen_at_once() -> None:
    storage = CountingStorage()
    cache = CachedClientRepository(storage)
    cache.resume()
    await cache.add(client())
    assert (await cache.get("svc")).enabled  # type: ignore[union-attr]
    stored = await cache.get("svc")
    assert stored is not None
    await cache.update(stored.with_changes(T0, enabled=False))
    assert not (await cache.get("svc")).enabled  # type: ignore[union-attr]


async def test_unknown_ids_are_cached_too_but_the_cache_stays_bounded() -> None:
    storage = CountingStorage()
    cache = CachedClientRepository(storage, max_entries=100)
    cache.resume()
    for index in range(1000):
        assert await cache.get(f"unknown-{index}") is None
    assert 100 == len(cache)


async def test_a_refusal_takes_a_fresh_look_so_a_just_rotated_secret_works_at_once() -> None:
    storage = CountingStorage()
    cache = CachedClientRepository(storage)
    cache.resume()
    authenticator = ClientAuthenticator(cache, RecordingHasher(), MemoryAdmission(60), ThrottlePolicy())
    await storage.add(Client("svc", "", (), True, "plain$old", T0, T0))
    await storage.add(Client("off", "", (), False, "plain$s", T0, T0))
    await authenticator.authenticate("svc", "old")
    rotated = await storage.get("svc")
    assert rotated is not None
    await storage.update(rotated.with_changes(T0, secret_hash="plain$new"))  # rotated elsewhere (the CLI)
    assert "svc" == (await authenticator.authenticate("svc", "new")).client_id

    # Unknown, wrong and disabled each cost one storage read, cached or not: a cached one takes a fresh look; an
    # uncached one reads the storage once, and that read is the fresh look.
    await storage.add(Client("cold-off", "", (), False, "plain$s", T0, T0))
    reads = {}
    for client_id, secret, warm in (
        ("nobody", "x", True),
        ("svc", "wrong", True),
        ("off", "s", True),
        ("never-seen", "x", False),
        ("cold-off", "s", False),
    ):
        if warm:
            await cache.get(client_id)
            await cache.get(client_id)  # used since it was read
        before = len(storage.reads)
        with pytest.raises(InvalidClient):
            await authenticator.authenticate(client_id, secret)
        reads[client_id] = len(storage.reads) - before
    assert {"nobody": 1, "svc": 1, "off": 1, "never-seen": 1, "cold-off": 1} == reads
