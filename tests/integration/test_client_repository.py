"""The ClientRepository and ClientChanges contract, on every storage (storages.STORAGES).

The client tests run twice per storage: directly, as the CLI uses it, and behind the client
cache, as the token path does.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import pytest

from horus.adapters.storage.client_cache import CachedClientRepository
from horus.adapters.storage.memory import MemoryStorage
from horus.adapters.storage.sqlite import SQLiteStorage
from horus.domain.errors import ClientAlreadyExists, ClientChangedConcurrently, ClientNotFound
from horus.ports.clients import ClientRepository
from tests.fakes import T0
from tests.integration.postgresql_databases import ThrowawayPostgreSQLStorage, database_url
from tests.integration.storages import Storage, make_client, make_key


@pytest.fixture(params=["direct", "cached"])
def clients(request: pytest.FixtureRequest, storage: Storage) -> ClientRepository:
    """Every storage as the composition root uses it: directly (CLI), and behind the token path's client cache."""
    return storage if request.param == "direct" else CachedClientRepository(storage, storage)


async def test_an_unknown_client_is_none(clients: ClientRepository) -> None:
    assert None is await clients.get("nobody")


async def test_an_added_client_comes_back_equal(clients: ClientRepository) -> None:
    client = make_client()
    await clients.add(client)
    assert client == await clients.get("billing.apps")


async def test_adding_a_taken_client_id_is_client_already_exists_and_keeps_the_first(clients: ClientRepository) -> None:
    first = make_client(name="first")
    await clients.add(first)
    with pytest.raises(ClientAlreadyExists) as raised:
        await clients.add(make_client(name="second"))
    assert "billing.apps" == raised.value.client_id
    assert first == await clients.get("billing.apps")


async def test_updating_an_unknown_client_is_client_not_found(clients: ClientRepository) -> None:
    with pytest.raises(ClientNotFound):
        await clients.update(make_client("nobody"))
    assert None is await clients.get("nobody")


async def test_an_update_changes_every_field_and_persists(clients: ClientRepository) -> None:
    await clients.add(make_client())
    changed = make_client(
        name="Billing v2",
        scopes=("admin",),
        enabled=False,
        secret_hash="argon2id$" + "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
        updated_at=T0 + timedelta(hours=1),
    )
    stored = await clients.update(changed)
    assert (replace(changed, version=1), stored) == (stored, await clients.get("billing.apps"))


async def test_an_update_stores_and_returns_the_next_version(clients: ClientRepository) -> None:
    await clients.add(make_client())
    first = await clients.update(make_client(enabled=False))
    second = await clients.update(replace(first, name="renamed"))
    assert (make_client(enabled=False, version=1), make_client(enabled=False, name="renamed", version=2)) == (
        first,
        second,
    )
    assert second == await clients.get("billing.apps")


async def test_an_update_from_a_stale_read_is_refused_and_keeps_the_change_it_did_not_see(
    clients: ClientRepository,
) -> None:
    await clients.add(make_client())
    read_by_one, read_by_other = await clients.get("billing.apps"), await clients.get("billing.apps")
    assert read_by_one is not None
    assert read_by_other is not None
    disabled = await clients.update(replace(read_by_one, enabled=False))
    with pytest.raises(ClientChangedConcurrently) as raised:
        await clients.update(replace(read_by_other, secret_hash="hmac-sha256$" + "cd" * 32))
    assert "billing.apps" == raised.value.client_id
    assert disabled == await clients.get("billing.apps")


async def test_an_update_touches_only_its_own_client(clients: ClientRepository) -> None:
    await clients.add(make_client("a"))
    await clients.add(make_client("b"))
    await clients.update(make_client("a", enabled=False))
    assert make_client("b") == await clients.get("b")


async def test_removing_an_unknown_client_is_client_not_found(clients: ClientRepository) -> None:
    with pytest.raises(ClientNotFound):
        await clients.remove("nobody")


async def test_a_removed_client_is_gone(clients: ClientRepository) -> None:
    await clients.add(make_client())
    await clients.remove("billing.apps")
    assert None is await clients.get("billing.apps")
    assert [] == list(await clients.list_all())


async def test_list_all_is_sorted_by_client_id(clients: ClientRepository) -> None:
    for client_id in ("m", "b.2", "z", "A", "b.10"):
        await clients.add(make_client(client_id))
    assert ["A", "b.10", "b.2", "m", "z"] == [client.client_id for client in await clients.list_all()]


async def test_list_all_of_an_empty_storage_is_empty(clients: ClientRepository) -> None:
    assert [] == list(await clients.list_all())


@pytest.mark.parametrize("scopes", [(), ("read",), ("a:b", "read", "write", "x/y")], ids=["none", "one", "many"])
async def test_scopes_round_trip(clients: ClientRepository, scopes: tuple[str, ...]) -> None:
    await clients.add(make_client(scopes=scopes))
    stored = await clients.get("billing.apps")
    assert stored is not None
    assert scopes == stored.scopes


async def test_timestamps_come_back_as_the_same_instants_whatever_their_time_zone(clients: ClientRepository) -> None:
    """PostgreSQL keeps instants (timestamptz), not offsets: an entity comes back equal, its times maybe in UTC."""
    created = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    updated = datetime(2026, 6, 7, 8, 9, 10, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    await clients.add(make_client(created_at=created, updated_at=updated))
    stored = await clients.get("billing.apps")
    assert stored is not None
    assert (created, updated) == (stored.created_at, stored.updated_at)
    assert None not in (stored.created_at.utcoffset(), stored.updated_at.utcoffset())


@pytest.mark.parametrize("not_before", [None, T0, T0 + timedelta(seconds=1)], ids=["none", "created", "later"])
async def test_not_before_round_trips(clients: ClientRepository, not_before: datetime | None) -> None:
    await clients.add(make_client(not_before=not_before))
    stored = await clients.get("billing.apps")
    assert stored is not None
    assert not_before == stored.not_before


async def test_a_disabled_client_stays_disabled(clients: ClientRepository) -> None:
    await clients.add(make_client(enabled=False))
    stored = await clients.get("billing.apps")
    assert stored is not None
    assert False is stored.enabled


async def test_a_change_is_seen_by_the_next_read_even_after_an_earlier_read(clients: ClientRepository) -> None:
    assert None is await clients.get("billing.apps")  # a cache would remember this miss
    await clients.add(make_client())
    assert make_client() == await clients.get("billing.apps")
    await clients.update(make_client(enabled=False))
    assert make_client(enabled=False, version=1) == await clients.get("billing.apps")
    await clients.remove("billing.apps")
    assert None is await clients.get("billing.apps")


async def test_every_client_write_changes_the_revision_and_a_failed_one_does_not(storage: Storage) -> None:
    seen = [await storage.client_revision()]
    await storage.add(make_client())
    seen.append(await storage.client_revision())
    await storage.update(make_client(enabled=False))
    seen.append(await storage.client_revision())
    await storage.remove("billing.apps")
    seen.append(await storage.client_revision())
    assert len(set(seen)) == 4, seen
    with pytest.raises(ClientNotFound):
        await storage.update(make_client("nobody"))
    with pytest.raises(ClientNotFound):
        await storage.remove("nobody")
    assert seen[-1] == await storage.client_revision()  # nothing changed: every cache stays
    await storage.add(make_client("twice"))
    before = await storage.client_revision()
    with pytest.raises(ClientAlreadyExists):
        await storage.add(make_client("twice"))
    assert before == await storage.client_revision()
    await storage.add_key(make_key("k1", T0))
    assert before == await storage.client_revision()  # keys are not clients


async def sql_by_hand(storage: Storage, statement: str) -> None:
    """What an operator does with the database's own client, outside Horus."""
    if isinstance(storage, SQLiteStorage):
        with closing(sqlite3.connect(storage._path)) as db, db:
            db.execute(statement.replace("$1", "?"), ("billing.apps",))
    elif isinstance(storage, ThrowawayPostgreSQLStorage):
        connection = await asyncpg.connect(database_url(storage.database), timeout=10)
        try:
            await connection.execute(statement, "billing.apps")
        finally:
            await connection.close()
    else:
        raise AssertionError(f"no SQL client for {type(storage).__name__}")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE clients SET enabled = 0 WHERE client_id = $1",
        "UPDATE clients SET secret_hash = 'hmac-sha256$00' WHERE client_id = $1",
        "DELETE FROM clients WHERE client_id = $1",
    ],
    ids=["disable", "new secret hash", "delete"],
)
async def test_a_client_write_by_hand_changes_the_revision_too(storage: Storage, statement: str) -> None:
    if isinstance(storage, MemoryStorage):
        pytest.skip("nothing outside the process can write to memory storage")
    await storage.add(make_client())
    before = await storage.client_revision()
    await sql_by_hand(storage, statement)
    assert before != await storage.client_revision()
