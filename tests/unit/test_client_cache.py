from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from horus.adapters.storage.client_cache import CachedClientRepository
from horus.adapters.storage.memory import MemoryStorage
from horus.domain.client import Client
from horus.domain.errors import StorageUnavailable
from tests.fakes import T0


@dataclass
class CountingStorage(MemoryStorage):
    reads: list[str] = field(default_factory=list)
    revision_reads: int = 0
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
        self.revision_reads += 1
        if self.revision_fails:
            raise StorageUnavailable()
        return await MemoryStorage.client_revision(self)

    def set_without_revision(self, changed: Client) -> None:
        self._clients[changed.client_id] = changed


class Ticker:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def client(client_id: str = "svc", enabled: bool = True) -> Client:
    return Client(client_id, "", (), enabled, "hmac-sha256$00", T0, T0)


async def test_hot_clients_are_read_once_while_no_client_changes() -> None:
    storage, ticker = CountingStorage(), Ticker()
    cache = CachedClientRepository(storage, storage, ttl_seconds=2, clock=ticker)
    await storage.add(client())
    for _ in range(10):
        for _ in range(100):
            await cache.get("svc")
        ticker.now += 2  # the revision is read again, and has not changed
    assert ["svc"] == storage.reads
    assert 10 == storage.revision_reads


async def test_the_revision_is_read_at_most_once_per_ttl() -> None:
    storage, ticker = CountingStorage(), Ticker()
    cache = CachedClientRepository(storage, storage, ttl_seconds=2, clock=ticker)
    for _ in range(40):
        await cache.get("svc")
        ticker.now += 0.25
    assert 5 == storage.revision_reads


async def test_a_change_made_elsewhere_is_seen_within_the_ttl() -> None:
    storage, ticker = CountingStorage(), Ticker()
    cache = CachedClientRepository(storage, storage, ttl_seconds=2, clock=ticker)
    await storage.add(client())
    await storage.add(client("other"))
    assert (await cache.get("svc")).enabled  # type: ignore[union-attr]
    await storage.update(client(enabled=False))  # e.g. the CLI, another process
    ticker.now += 1.9
    assert (await cache.get("svc")).enabled  # type: ignore[union-attr]
    ticker.now += 0.1
    assert not (await cache.get("svc")).enabled  # type: ignore[union-attr]
    await storage.remove("other")
    ticker.now += 2
    assert await cache.get("other") is None


async def test_entries_are_read_again_after_the_max_age_even_without_a_revision_change() -> None:
    storage, ticker = CountingStorage(), Ticker()
    cache = CachedClientRepository(storage, storage, ttl_seconds=2, clock=ticker, max_age_seconds=60)
    await storage.add(client())
    await cache.get("svc")
    storage.set_without_revision(client(enabled=False))  # a write the revision missed
    ticker.now += 29  # never before half the max age
    assert (await cache.get("svc")).enabled  # type: ignore[union-attr]
    ticker.now += 31  # always by the max age
    assert not (await cache.get("svc")).enabled  # type: ignore[union-attr]


async def test_entries_read_together_do_not_all_expire_together() -> None:
    storage, ticker = CountingStorage(), Ticker()
    cache = CachedClientRepository(storage, storage, ttl_seconds=2, clock=ticker, max_age_seconds=60)
    for index in range(200):
        await storage.add(client(f"svc-{index}"))
    for index in range(200):
        await cache.get(f"svc-{index}")
    reads_before = len(storage.reads)
    ticker.now += 45  # three quarters of the max age: about half the entries are due
    for index in range(200):
        await cache.get(f"svc-{index}")
    assert 40 < len(storage.reads) - reads_before < 160


async def test_an_unreadable_revision_drops_the_cache_so_requests_fail_closed() -> None:
    storage, ticker = CountingStorage(), Ticker()
    cache = CachedClientRepository(storage, storage, ttl_seconds=2, clock=ticker)
    await storage.add(client())
    await cache.get("svc")
    storage.revision_fails = True
    ticker.now += 2
    await cache.get("svc")
    assert ["svc", "svc"] == storage.reads
    assert 1 == len(cache)


async def test_a_change_seen_during_a_read_outdates_what_that_read_returned() -> None:
    storage, ticker = CountingStorage(), Ticker()
    cache = CachedClientRepository(storage, storage, ttl_seconds=2, clock=ticker)
    await storage.add(client())
    await cache.get("warm-up")

    async def change_during_read() -> None:
        await storage.update(client(enabled=False))
        ticker.now += 2
        await cache.get("warm-up")  # this request reads the new revision while the first read is in flight

    storage.during_next_read = change_during_read
    assert (await cache.get("svc")).enabled  # type: ignore[union-attr]  # read before the change
    assert not (await cache.get("svc")).enabled  # type: ignore[union-attr]


async def test_ttl_zero_turns_the_cache_off() -> None:
    storage = CountingStorage()
    cache = CachedClientRepository(storage, storage, ttl_seconds=0)
    for _ in range(3):
        await cache.get("svc")
    assert ["svc"] * 3 == storage.reads
    assert 0 == storage.revision_reads


async def test_changes_through_the_cache_are_seen_at_once() -> None:
    storage = CountingStorage()
    cache = CachedClientRepository(storage, storage, ttl_seconds=60)
    await cache.add(client())
    await cache.get("svc")
    await cache.update(client(enabled=False))
    assert not (await cache.get("svc")).enabled  # type: ignore[union-attr]
    await cache.remove("svc")
    assert await cache.get("svc") is None


async def test_unknown_ids_are_cached_too_but_the_cache_stays_bounded() -> None:
    storage = CountingStorage()
    cache = CachedClientRepository(storage, storage, ttl_seconds=60, max_entries=100)
    for index in range(1000):
        assert await cache.get(f"unknown-{index}") is None
    assert 100 == len(cache)


async def test_a_refusal_takes_a_fresh_look_so_a_just_rotated_secret_works_at_once() -> None:
    import pytest

    from horus.adapters.throttling.memory import MemoryAdmission
    from horus.domain.authentication import ClientAuthenticator
    from horus.domain.errors import InvalidClient
    from horus.domain.throttling import ThrottlePolicy
    from tests.fakes import RecordingHasher

    storage = CountingStorage()
    cache = CachedClientRepository(storage, storage, ttl_seconds=60)
    authenticator = ClientAuthenticator(cache, RecordingHasher(), MemoryAdmission(60), ThrottlePolicy())
    await storage.add(Client("svc", "", (), True, "plain$old", T0, T0))
    await storage.add(Client("off", "", (), False, "plain$s", T0, T0))
    await authenticator.authenticate("svc", "old")
    await storage.update(Client("svc", "", (), True, "plain$new", T0, T0))  # rotated elsewhere (the CLI)
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


async def test_a_revision_read_cancelled_midway_is_done_again_by_the_next_request() -> None:
    import asyncio

    storage, ticker = CountingStorage(), Ticker()
    cache = CachedClientRepository(storage, storage, ttl_seconds=2, clock=ticker)
    await storage.add(client())
    await cache.get("svc")
    await storage.update(client(enabled=False))
    ticker.now += 2
    stalled = asyncio.Event()

    async def stalled_revision() -> int:
        stalled.set()
        await asyncio.sleep(3600)
        return 0

    storage.client_revision = stalled_revision  # type: ignore[method-assign]
    reading = asyncio.create_task(cache.get("svc"))
    await stalled.wait()
    reading.cancel()  # e.g. the request's client went away
    with pytest.raises(asyncio.CancelledError):
        await reading
    del storage.client_revision  # the counting one again
    ticker.now += 0.1
    assert not (await cache.get("svc")).enabled  # type: ignore[union-attr]
