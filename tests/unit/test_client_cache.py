from __future__ import annotations

from dataclasses import dataclass, field

from horus.adapters.storage.client_cache import CachedClientRepository
from horus.adapters.storage.memory import MemoryStorage
from horus.domain.client import Client
from tests.fakes import T0


@dataclass
class CountingStorage(MemoryStorage):
    reads: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        MemoryStorage.__init__(self)

    async def get(self, client_id: str, fresh: bool = False) -> Client | None:
        self.reads.append(client_id)
        return await MemoryStorage.get(self, client_id, fresh)


class Ticker:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def client(client_id: str = "svc", enabled: bool = True) -> Client:
    return Client(client_id, "", (), enabled, "hmac-sha256$00", T0, T0)


async def test_hot_clients_are_read_once_per_ttl() -> None:
    storage, ticker = CountingStorage(), Ticker()
    cache = CachedClientRepository(storage, ttl_seconds=2, clock=ticker)
    await storage.add(client())
    for _ in range(100):
        await cache.get("svc")
    assert ["svc"] == storage.reads
    ticker.now += 2
    await cache.get("svc")
    assert ["svc", "svc"] == storage.reads


async def test_a_change_made_elsewhere_is_seen_within_the_ttl() -> None:
    storage, ticker = CountingStorage(), Ticker()
    cache = CachedClientRepository(storage, ttl_seconds=2, clock=ticker)
    await storage.add(client())
    assert (await cache.get("svc")).enabled  # type: ignore[union-attr]
    await storage.update(client(enabled=False))  # e.g. the CLI, another process
    ticker.now += 2
    assert not (await cache.get("svc")).enabled  # type: ignore[union-attr]


async def test_changes_through_the_cache_are_seen_at_once() -> None:
    storage = CountingStorage()
    cache = CachedClientRepository(storage, ttl_seconds=60)
    await cache.add(client())
    await cache.get("svc")
    await cache.update(client(enabled=False))
    assert not (await cache.get("svc")).enabled  # type: ignore[union-attr]
    await cache.remove("svc")
    assert await cache.get("svc") is None


async def test_unknown_ids_are_cached_too_but_the_cache_stays_bounded() -> None:
    storage = CountingStorage()
    cache = CachedClientRepository(storage, ttl_seconds=60, max_entries=100)
    for index in range(1000):
        assert await cache.get(f"unknown-{index}") is None
    assert 100 == len(cache)


async def test_a_refusal_takes_a_fresh_look_so_a_just_rotated_secret_works_at_once() -> None:
    import pytest

    from horus.adapters.throttling.memory import MemoryFailureCounter
    from horus.domain.authentication import ClientAuthenticator
    from horus.domain.errors import InvalidClient
    from horus.domain.throttling import FailureThrottle, ThrottlePolicy
    from tests.unit.test_grant import RecordingHasher

    storage = CountingStorage()
    cache = CachedClientRepository(storage, ttl_seconds=60)
    authenticator = ClientAuthenticator(
        cache, RecordingHasher(), FailureThrottle(MemoryFailureCounter(60), ThrottlePolicy())
    )
    await storage.add(Client("svc", "", (), True, "plain$old", T0, T0))
    await storage.add(Client("off", "", (), False, "plain$s", T0, T0))
    await authenticator.authenticate("svc", "old")
    await storage.update(Client("svc", "", (), True, "plain$new", T0, T0))  # rotated elsewhere (the CLI)
    assert "svc" == (await authenticator.authenticate("svc", "new")).client_id

    # Unknown, wrong and disabled each cost the same reads: the cached one, then one fresh look.
    reads = {}
    for client_id, secret in (("nobody", "x"), ("svc", "wrong"), ("off", "s")):
        await cache.get(client_id)  # warm
        before = len(storage.reads)
        with pytest.raises(InvalidClient):
            await authenticator.authenticate(client_id, secret)
        reads[client_id] = len(storage.reads) - before
    assert {"nobody": 1, "svc": 1, "off": 1} == reads
