"""Port promises the shared suite does not cover yet, checked on every adapter that keeps them.

Revocations and key retirement on memory, SQLite and PostgreSQL; the failure counter on
PostgreSQL (test_failure_counters.py runs it on memory and SQLite).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Protocol

import pytest

from horus.adapters.storage.memory import MemoryStorage
from horus.adapters.storage.sqlite import SQLiteStorage
from horus.ports.revocations import RevokedTokens
from horus.ports.signing_keys import SigningKeyRepository
from tests.fakes import T0
from tests.integration.postgresql_databases import ThrowawayPostgreSQLStorage
from tests.integration.test_storage_adapters import make_key


class Storage(SigningKeyRepository, RevokedTokens, Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...


FACTORIES: dict[str, Callable[[Path], Storage]] = {
    "memory": lambda tmp_path: MemoryStorage(),
    "sqlite": lambda tmp_path: SQLiteStorage(tmp_path / "h.db"),
    "postgresql": lambda tmp_path: ThrowawayPostgreSQLStorage(),
}


async def opened(adapter: str, tmp_path: Path) -> Storage:
    storage = FACTORIES[adapter](tmp_path)
    await storage.open()
    return storage


@pytest.fixture(params=list(FACTORIES))
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    storage = await opened(request.param, tmp_path)
    try:
        yield storage
    finally:
        await storage.close()


# Revocations


async def test_a_revoked_token_is_revoked_and_others_are_not(storage: Storage) -> None:
    await storage.revoke("jti-1", T0 + timedelta(hours=1))
    assert (True, False) == (await storage.is_revoked("jti-1"), await storage.is_revoked("jti-2"))


async def test_revoking_twice_changes_nothing_and_keeps_the_first_expiry(storage: Storage) -> None:
    await storage.revoke("jti-1", T0 + timedelta(hours=1))
    await storage.revoke("jti-1", T0 + timedelta(hours=10))
    assert 1 == await storage.purge_expired(T0 + timedelta(hours=2))
    assert False is await storage.is_revoked("jti-1")


async def test_purging_forgets_exactly_the_expired_revocations(storage: Storage) -> None:
    await storage.revoke("expired", T0)
    await storage.revoke("live", T0 + timedelta(seconds=1))
    assert 1 == await storage.purge_expired(T0)
    assert (False, True) == (await storage.is_revoked("expired"), await storage.is_revoked("live"))
    assert 0 == await storage.purge_expired(T0)


@pytest.mark.parametrize(
    "adapter",
    [
        "memory",
        "sqlite",
        "postgresql",
    ],
)
async def test_a_token_expiring_after_2038_can_be_revoked(adapter: str, tmp_path: Path) -> None:
    storage = await opened(adapter, tmp_path)
    try:
        await storage.revoke("jti-1", datetime(2040, 1, 1, tzinfo=UTC))
        assert True is await storage.is_revoked("jti-1")
    finally:
        await storage.close()


# Signing keys


async def test_retiring_keys_sets_a_date_but_keeps_an_earlier_one(storage: Storage) -> None:
    await storage.add_key(make_key("never", T0))
    await storage.add_key(make_key("sooner", T0 + timedelta(seconds=1), retires_at=T0 + timedelta(days=1)))
    await storage.add_key(make_key("later", T0 + timedelta(seconds=2), retires_at=T0 + timedelta(days=3)))
    await storage.add_key(make_key("untouched", T0 + timedelta(seconds=3)))
    await storage.retire_keys(["never", "sooner", "later", "unknown"], T0 + timedelta(days=2))
    assert [T0 + timedelta(days=2), T0 + timedelta(days=1), T0 + timedelta(days=2), None] == [
        key.retires_at for key in await storage.list_keys()
    ]


async def test_retiring_compares_times_not_the_offsets_they_were_written_with(storage: Storage) -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    await storage.add_key(make_key("k1", T0, retires_at=(T0 + timedelta(hours=1)).astimezone(india)))
    await storage.retire_keys(["k1"], T0 + timedelta(hours=2))  # later, though "14:00+00:00" < "18:30+05:30" as text
    [key] = await storage.list_keys()
    assert T0 + timedelta(hours=1) == key.retires_at


async def test_retiring_no_keys_changes_nothing(storage: Storage) -> None:
    await storage.add_key(make_key("k1", T0))
    await storage.retire_keys([], T0)
    assert [make_key("k1", T0)] == list(await storage.list_keys())


async def test_adding_a_stored_kid_again_is_a_value_error_and_keeps_the_first(storage: Storage) -> None:
    await storage.add_key(make_key("k1", T0))
    with pytest.raises(ValueError, match="k1 already stored"):
        await storage.add_key(make_key("k1", T0 + timedelta(days=1)))
    assert [make_key("k1", T0)] == list(await storage.list_keys())
