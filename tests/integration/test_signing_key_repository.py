"""The SigningKeyRepository contract, on every storage (storages.STORAGES)."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest

from tests.fakes import T0
from tests.integration.storages import Storage, make_key


async def test_no_keys_at_first(storage: Storage) -> None:
    assert [] == list(await storage.list_keys())


async def test_keys_round_trip_oldest_first(storage: Storage) -> None:
    newest = make_key("k-new", T0 + timedelta(days=2))
    oldest = make_key("k-old", T0, retires_at=T0 + timedelta(days=2, hours=1))
    middle = make_key("k-mid", T0 + timedelta(days=1, microseconds=500))
    for key in (newest, oldest, middle):
        await storage.add_key(key)
    assert [oldest, middle, newest] == list(await storage.list_keys())


async def test_a_key_without_retirement_keeps_none(storage: Storage) -> None:
    await storage.add_key(make_key("k1", T0))
    [stored] = await storage.list_keys()
    assert None is stored.retires_at
    assert bytes(range(256)) == stored.encrypted_private_key


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
