"""The RevokedTokens contract, on every storage (storages.STORAGES)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.fakes import T0
from tests.integration.storages import Storage


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


async def test_a_token_expiring_after_2038_can_be_revoked(storage: Storage) -> None:
    await storage.revoke("jti-1", datetime(2040, 1, 1, tzinfo=UTC))
    assert True is await storage.is_revoked("jti-1")
