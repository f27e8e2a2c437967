"""SQLite's own promises: its files, its migrations, its locks, and what a failed open leaves behind.

The shared contract suites (test_client_repository.py and the others) run on SQLite too.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from horus.adapters.storage import sqlite as sqlite_module
from horus.adapters.storage.migrations import load_migrations
from horus.adapters.storage.sqlite import SQLiteStorage
from horus.domain.errors import StorageUnavailable
from tests.fakes import T0
from tests.integration.processes import horus_env, run_horus
from tests.integration.storages import make_client, make_key


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
