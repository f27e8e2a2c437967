"""One behaviour suite for every storage adapter (ClientRepository + SigningKeyRepository), then SQLite's own promises.

Every adapter runs the same tests through the `storage` fixture, and the client tests run
once more with the client cache in front of it. Adding an adapter (PostgreSQL) is one more
entry in STORAGE_FACTORIES, or a pytest.param with a skip mark when it needs a service.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import pytest

from horus.adapters.storage import sqlite as sqlite_module
from horus.adapters.storage.client_cache import CachedClientRepository
from horus.adapters.storage.memory import MemoryStorage
from horus.adapters.storage.migrations import load_migrations
from horus.adapters.storage.sqlite import SQLiteStorage
from horus.domain.client import Client
from horus.domain.errors import ClientAlreadyExists, ClientChangedConcurrently, ClientNotFound, StorageUnavailable
from horus.domain.signing_key import StoredSigningKey
from horus.ports.clients import ClientChanges, ClientRepository
from horus.ports.signing_keys import SigningKeyRepository
from tests.fakes import T0
from tests.integration.postgresql_databases import ThrowawayPostgreSQLStorage, database_url
from tests.integration.processes import horus_env, run_horus


class Storage(ClientRepository, SigningKeyRepository, Protocol):
    """What every storage adapter is: both repositories, opened and closed by the composition root."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...


StorageFactory = Callable[[Path], Storage]

STORAGE_FACTORIES: dict[str, StorageFactory] = {
    "memory": lambda tmp_path: MemoryStorage(),
    "sqlite": lambda tmp_path: SQLiteStorage(tmp_path / "h.db"),
    "postgresql": lambda tmp_path: ThrowawayPostgreSQLStorage(),  # a database of its own; fails if no server
}


@pytest.fixture(params=list(STORAGE_FACTORIES))
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    opened = STORAGE_FACTORIES[request.param](tmp_path)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture(params=["direct", "cached"])
def clients(request: pytest.FixtureRequest, storage: Storage) -> ClientRepository:
    """Every storage as the composition root uses it: directly (CLI), and behind the token path's client cache."""
    return storage if request.param == "direct" else CachedClientRepository(storage, storage)


def make_client(client_id: str = "billing.apps", **changes: Any) -> Client:
    values: dict[str, Any] = {
        "client_id": client_id,
        "name": "Billing",
        "scopes": ("read", "write"),
        "enabled": True,
        "secret_hash": "hmac-sha256$" + "ab" * 32,
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(changes)
    return Client(**values)


def make_key(kid: str, created_at: datetime, retires_at: datetime | None = None) -> StoredSigningKey:
    return StoredSigningKey(
        kid=kid,
        algorithm="ES256",
        encrypted_private_key=bytes(range(256)),  # every byte value, so the encoding at rest is exercised
        public_jwk=f'{{"kty":"EC","crv":"P-256","kid":"{kid}"}}',
        created_at=created_at,
        activates_at=created_at + timedelta(minutes=5),
        retires_at=retires_at,
    )


# Clients


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
    changes: ClientChanges = storage  # type: ignore[assignment]
    seen = [await changes.client_revision()]
    await storage.add(make_client())
    seen.append(await changes.client_revision())
    await storage.update(make_client(enabled=False))
    seen.append(await changes.client_revision())
    await storage.remove("billing.apps")
    seen.append(await changes.client_revision())
    assert len(set(seen)) == 4, seen
    with pytest.raises(ClientNotFound):
        await storage.update(make_client("nobody"))
    with pytest.raises(ClientNotFound):
        await storage.remove("nobody")
    assert seen[-1] == await changes.client_revision()  # nothing changed: every cache stays
    await storage.add(make_client("twice"))
    before = await changes.client_revision()
    with pytest.raises(ClientAlreadyExists):
        await storage.add(make_client("twice"))
    assert before == await changes.client_revision()
    await storage.add_key(make_key("k1", T0))
    assert before == await changes.client_revision()  # keys are not clients


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
        return  # nothing outside the process can write to it
    changes: ClientChanges = storage  # type: ignore[assignment]
    await storage.add(make_client())
    before = await changes.client_revision()
    await sql_by_hand(storage, statement)
    assert before != await changes.client_revision()


# Signing keys


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


# SQLite only


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "h.db"


async def opened_sqlite(path: Path) -> SQLiteStorage:
    storage = SQLiteStorage(path)
    await storage.open()
    return storage


def query(path: Path, sql: str) -> list[Any]:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute(sql).fetchall()


async def test_sqlite_data_survives_close_and_reopen(db_path: Path) -> None:
    client, key = make_client(), make_key("k1", T0)
    first = await opened_sqlite(db_path)
    await first.add(client)
    await first.add_key(key)
    await first.close()
    second = await opened_sqlite(db_path)
    try:
        assert (client, [key]) == (await second.get("billing.apps"), list(await second.list_keys()))
    finally:
        await second.close()


async def test_sqlite_migrations_are_applied_once(db_path: Path) -> None:
    for _ in range(3):
        await (await opened_sqlite(db_path)).close()
    expected = sorted((migration.version,) for migration in load_migrations("sqlite"))
    assert expected == sorted(query(db_path, "SELECT version FROM schema_migrations"))
    assert [(1,)] == query(db_path, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'clients'")


def sqlite_database_before_client_versions(path: Path) -> None:
    """A database as Horus left it before clients carried a version, with one client and one key in it."""
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)")
        for migration in load_migrations("sqlite"):
            if migration.version < 8:  # 0008 added clients.version
                for statement in migration.statements:
                    db.execute(statement)
                db.execute("INSERT INTO schema_migrations (version) VALUES (?)", (migration.version,))
        db.execute(
            "INSERT INTO clients (client_id, name, scopes, enabled, secret_hash, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            ("billing.apps", "Billing", "read write", 1, "hmac-sha256$" + "ab" * 32, T0.isoformat(), T0.isoformat()),
        )
    path.chmod(0o600)


async def test_sqlite_rows_of_an_older_schema_read_back_as_the_same_entities(db_path: Path) -> None:
    await asyncio.to_thread(sqlite_database_before_client_versions, db_path)
    storage = await opened_sqlite(db_path)
    try:
        assert make_client(not_before=T0) == await storage.get("billing.apps")  # tokens from its creation on
    finally:
        await storage.close()


async def test_sqlite_runs_in_wal_mode(db_path: Path) -> None:
    await (await opened_sqlite(db_path)).close()
    assert [("wal",)] == query(db_path, "PRAGMA journal_mode")


@pytest.fixture
def everyone_may_read_new_files() -> Iterator[None]:
    """The usual umask: files are created 0644 unless the creator says otherwise."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("everyone_may_read_new_files")
async def test_sqlite_creates_the_database_and_its_wal_and_shm_files_readable_by_the_owner_only(db_path: Path) -> None:
    storage = await opened_sqlite(db_path)
    try:
        await storage.add(make_client())  # the -wal and -shm files exist while a connection is open
        modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in sorted(db_path.parent.glob("h.db*"))}
    finally:
        await storage.close()
    assert {"h.db": 0o600, "h.db-shm": 0o600, "h.db-wal": 0o600} == modes
    assert 0o022 == os.umask(0o022)  # the process's umask is back as it was


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm"])
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
async def test_sqlite_refuses_a_database_whose_files_others_can_read(db_path: Path, suffix: str, mode: int) -> None:
    await (await opened_sqlite(db_path)).close()
    readable = db_path.with_name("h.db" + suffix)
    readable.touch(0o600)
    readable.chmod(mode)
    storage = SQLiteStorage(db_path)
    try:
        with pytest.raises(StorageUnavailable) as raised:
            await storage.open()
    finally:
        await storage.close()  # had it opened, its connection's thread would keep the test run from exiting
    assert f"the SQLite file {readable} is readable by others; chmod 600 it" == raised.value.message


def test_the_cli_on_a_database_others_can_read_says_so_in_one_line(tmp_path: Path) -> None:
    env = horus_env(tmp_path, HORUS_SECRET_KEY="k" * 40)
    assert 0 == run_horus(["clients", "create", "--client-id", "a"], env, tmp_path).exit_code
    (tmp_path / "horus.db").chmod(0o644)
    listed = run_horus(["clients", "list"], env, tmp_path)
    assert (
        2,
        f"horus: cannot start: the SQLite file {tmp_path / 'horus.db'} is readable by others; chmod 600 it\n",
    ) == (
        listed.exit_code,
        listed.stderr,
    )


async def test_sqlite_in_a_missing_directory_is_storage_unavailable(tmp_path: Path) -> None:
    storage = SQLiteStorage(tmp_path / "missing" / "h.db")
    with pytest.raises(StorageUnavailable):
        await storage.open()
    assert not (tmp_path / "missing").exists()


@pytest.fixture
def directory_at_db_path(db_path: Path) -> Path:
    db_path.mkdir()
    return db_path


async def test_sqlite_on_a_path_that_is_a_directory_is_storage_unavailable(directory_at_db_path: Path) -> None:
    with pytest.raises(StorageUnavailable):
        await SQLiteStorage(directory_at_db_path).open()


@pytest.fixture
def text_file_at_db_path(db_path: Path) -> Path:
    db_path.write_bytes(b"this is not a database, only a text file. " * 200)
    db_path.chmod(0o600)
    return db_path


async def test_sqlite_on_a_file_that_is_not_a_database_is_storage_unavailable(text_file_at_db_path: Path) -> None:
    with pytest.raises(StorageUnavailable):
        await SQLiteStorage(text_file_at_db_path).open()


@pytest.fixture
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real 5 s busy timeout would make each locked test wait 5 s; the behaviour is the same."""
    monkeypatch.setattr(sqlite_module, "BUSY_TIMEOUT_MS", 50)


@pytest.mark.usefixtures("short_busy_timeout")
async def test_sqlite_writes_while_another_writer_holds_the_lock_are_storage_unavailable(db_path: Path) -> None:
    storage = await opened_sqlite(db_path)
    await storage.add(make_client("existing"))
    try:
        with closing(sqlite3.connect(db_path, isolation_level=None)) as other:
            other.execute("BEGIN EXCLUSIVE")
            with pytest.raises(StorageUnavailable):
                await storage.add(make_client("new"))
            with pytest.raises(StorageUnavailable):
                await storage.update(make_client("existing", enabled=False))
            with pytest.raises(StorageUnavailable):
                await storage.remove("existing")
            assert make_client("existing") == await storage.get("existing")  # WAL: readers are not blocked
            other.execute("ROLLBACK")
        await storage.add(make_client("new"))  # the lock is gone, so is the error
        assert ["existing", "new"] == [client.client_id for client in await storage.list_all()]
    finally:
        await storage.close()


def connection_threads() -> set[threading.Thread]:
    """aiosqlite runs each connection on a non-daemon thread: one left running keeps the process from exiting."""
    return {thread for thread in threading.enumerate() if "_connection_worker_thread" in thread.name}


async def connection_threads_after_a_moment(before: set[threading.Thread]) -> set[threading.Thread]:
    for _ in range(20):  # a closed connection's thread ends just after close() returns
        if not connection_threads() - before:
            break
        await asyncio.sleep(0.05)
    return connection_threads() - before


@pytest.mark.usefixtures("short_busy_timeout")
async def test_sqlite_opening_while_another_writer_holds_the_lock_is_storage_unavailable_and_leaves_nothing_open(
    db_path: Path,
) -> None:
    await (await opened_sqlite(db_path)).close()
    before = connection_threads()
    storage = SQLiteStorage(db_path)
    try:
        with closing(sqlite3.connect(db_path, isolation_level=None)) as other:
            other.execute("BEGIN EXCLUSIVE")
            with pytest.raises(StorageUnavailable):
                await storage.open()
            other.execute("ROLLBACK")
        assert set() == await connection_threads_after_a_moment(before)
    finally:
        await storage.close()  # what the failed open() should have done; without it this run would never exit


@pytest.mark.parametrize("prepare", ["missing-directory", "directory", "not-a-database"])
async def test_a_failed_sqlite_open_leaves_no_connection_open(db_path: Path, prepare: str) -> None:
    path = {"missing-directory": db_path / "missing" / "h.db", "directory": db_path, "not-a-database": db_path}[prepare]
    await asyncio.to_thread(_prepare_path, db_path, prepare)
    before = connection_threads()
    storage = SQLiteStorage(path)
    try:
        with pytest.raises(StorageUnavailable):
            await storage.open()
        assert set() == await connection_threads_after_a_moment(before)
    finally:
        await storage.close()


def _prepare_path(db_path: Path, prepare: str) -> None:
    if prepare == "directory":
        db_path.mkdir()
    elif prepare == "not-a-database":
        db_path.write_bytes(b"this is not a database, only a text file. " * 200)
        db_path.chmod(0o600)


async def test_sqlite_used_before_open_is_storage_unavailable(db_path: Path) -> None:
    with pytest.raises(StorageUnavailable):
        await SQLiteStorage(db_path).get("billing.apps")
