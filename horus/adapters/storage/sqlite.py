"""SQLite storage through aiosqlite: the default. WAL mode, a busy timeout, migrations applied at open.

The files hold client ids, scopes, the argon2id hashes of imported secrets and, with several
workers, the addresses of failed attempts: they are created 0600 (SQLite gives the -wal and -shm
files the database file's mode), and a database that others can read is refused, as the key file is.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from horus.adapters.storage.migrations import load_migrations
from horus.adapters.storage.records import CLIENT_COLUMNS, CLIENT_REVISION, KEY_COLUMNS, SQLITE_ROWS
from horus.domain.client import Client
from horus.domain.errors import ClientAlreadyExists, ClientChangedConcurrently, ClientNotFound, StorageUnavailable
from horus.domain.signing_key import StoredSigningKey
from horus.ports.clients import ClientChanges, ClientRepository
from horus.ports.revocations import RevokedTokens
from horus.ports.signing_keys import SigningKeyRepository

BUSY_TIMEOUT_MS = 5000
PRIVATE_UMASK = 0o077
SQLITE_FILE_SUFFIXES = ("", "-wal", "-shm")


class SQLiteStorage(ClientRepository, ClientChanges, SigningKeyRepository, RevokedTokens):
    def __init__(self, path: Path) -> None:
        self._path = path
        self._connection: aiosqlite.Connection | None = None
        # One connection per process: its transactions and writes must take turns, or a second
        # BEGIN fails inside the first, or a write lands in someone else's transaction.
        self._write_turn = asyncio.Lock()
        self._purged_window = 0

    async def open(self) -> None:
        if not self._path.parent.is_dir():
            raise StorageUnavailable(f"the directory of the SQLite file does not exist: {self._path.parent}")
        if self._path.is_dir():  # aiosqlite's failed connect leaves its worker thread behind: refuse first
            raise StorageUnavailable(f"the SQLite path is a directory, not a database file: {self._path}")
        _refuse_files_others_can_read(self._path)
        previous_umask = os.umask(PRIVATE_UMASK)  # process-wide, so only for as long as the files may be created
        try:
            self._connection = await aiosqlite.connect(self._path, isolation_level=None)
            await self._connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await self._connection.execute("PRAGMA journal_mode = WAL")
            await self._connection.execute("PRAGMA synchronous = NORMAL")
            await self._migrate()
        except (sqlite3.Error, StorageUnavailable) as error:
            await self.close()  # the connection's worker thread would otherwise keep the process alive
            cause = error.__cause__ if isinstance(error, StorageUnavailable) and error.__cause__ else error
            raise StorageUnavailable(f"cannot open the SQLite database {self._path}: {cause}") from error
        except BaseException:
            await self.close()
            raise
        finally:
            os.umask(previous_umask)

    async def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.close()

    async def ping(self) -> None:
        await self._fetch_one("SELECT 1", ())

    async def _migrate(self) -> None:
        async with self._transaction() as db:
            await db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
            async with db.execute("SELECT version FROM schema_migrations") as cursor:
                applied = {row[0] for row in await cursor.fetchall()}
            for migration in load_migrations("sqlite"):
                if migration.version in applied:
                    continue
                for statement in migration.statements:
                    await db.execute(statement)
                await db.execute("INSERT INTO schema_migrations (version) VALUES (?)", (migration.version,))

    @property
    def _db(self) -> aiosqlite.Connection:
        if self._connection is None:
            raise StorageUnavailable("the SQLite storage is not open")
        return self._connection

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE takes the write lock up front, so concurrent writers queue on the busy timeout."""
        db = self._db
        try:
            async with self._write_turn:
                await db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                except BaseException:
                    await db.execute("ROLLBACK")
                    raise
                await db.execute("COMMIT")
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as error:
            raise StorageUnavailable() from error

    async def _fetch_one(self, sql: str, parameters: tuple[Any, ...]) -> Any:
        try:
            async with self._db.execute(sql, parameters) as cursor:
                return await cursor.fetchone()
        except sqlite3.Error as error:
            raise StorageUnavailable() from error

    async def _fetch_all(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[Any]:
        try:
            async with self._db.execute(sql, parameters) as cursor:
                return list(await cursor.fetchall())
        except sqlite3.Error as error:
            raise StorageUnavailable() from error

    async def _write(self, sql: str, parameters: tuple[Any, ...]) -> int:
        try:
            async with self._write_turn, self._db.execute(sql, parameters) as cursor:
                return cursor.rowcount
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as error:
            raise StorageUnavailable() from error

    async def get(self, client_id: str, fresh: bool = False) -> Client | None:
        row = await self._fetch_one(f"SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id = ?", (client_id,))
        return SQLITE_ROWS.found_client(row)

    async def _change_clients(self, sql: str, parameters: tuple[Any, ...]) -> int:
        """The clients table's triggers (migration 0005) bump the client revision in the same transaction."""
        async with self._transaction() as db, db.execute(sql, parameters) as cursor:
            return int(cursor.rowcount)

    async def add(self, client: Client) -> None:
        try:
            await self._change_clients(
                f"INSERT INTO clients ({CLIENT_COLUMNS}) VALUES ({_marks(CLIENT_COLUMNS)})",
                SQLITE_ROWS.client_to_row(client),
            )
        except sqlite3.IntegrityError as error:
            raise ClientAlreadyExists(client.client_id) from error

    async def update(self, client: Client) -> Client:
        client_id, *values, version = SQLITE_ROWS.client_to_row(client)
        async with self._transaction() as db:
            async with db.execute(
                "UPDATE clients SET name = ?, scopes = ?, enabled = ?, secret_hash = ?, created_at = ?, updated_at = ?,"
                " not_before = ?, version = version + 1 WHERE client_id = ? AND version = ?",
                (*values, client_id, version),
            ) as cursor:
                updated = cursor.rowcount == 1
            if not updated:
                async with db.execute("SELECT 1 FROM clients WHERE client_id = ?", (client_id,)) as cursor:
                    stored = await cursor.fetchone()
                raise ClientChangedConcurrently(client_id) if stored else ClientNotFound(client_id)
        return replace(client, version=version + 1)

    async def remove(self, client_id: str) -> None:
        if await self._change_clients("DELETE FROM clients WHERE client_id = ?", (client_id,)) == 0:
            raise ClientNotFound(client_id)

    async def client_revision(self) -> int:
        row = await self._fetch_one(CLIENT_REVISION, ())
        return int(row[0])

    async def list_all(self) -> Sequence[Client]:
        rows = await self._fetch_all(f"SELECT {CLIENT_COLUMNS} FROM clients ORDER BY client_id")
        return [SQLITE_ROWS.client_from_row(row) for row in rows]

    async def list_keys(self) -> Sequence[StoredSigningKey]:
        rows = await self._fetch_all(f"SELECT {KEY_COLUMNS} FROM signing_keys ORDER BY created_at, kid")
        return [SQLITE_ROWS.key_from_row(row) for row in rows]

    async def add_key(self, key: StoredSigningKey) -> None:
        try:
            await self._write_key(key)
        except sqlite3.IntegrityError as error:
            raise ValueError(f"signing key {key.kid} already stored") from error

    async def _write_key(self, key: StoredSigningKey) -> None:
        await self._write(
            f"INSERT INTO signing_keys ({KEY_COLUMNS}) VALUES ({_marks(KEY_COLUMNS)})", SQLITE_ROWS.key_to_row(key)
        )

    async def retire_keys(self, kids: Sequence[str], retires_at: datetime) -> None:
        stamp = SQLITE_ROWS.time_to_sql(retires_at)  # UTC text, as every stored time: text order is time order
        async with self._transaction() as db:
            for kid in kids:
                await db.execute(
                    "UPDATE signing_keys SET retires_at = ? WHERE kid = ? AND (retires_at IS NULL OR retires_at > ?)",
                    (stamp, kid, stamp),
                )

    async def revoke(self, jti: str, expires_at: datetime) -> None:
        await self._write(
            "INSERT INTO revoked_tokens (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING",
            (jti, int(expires_at.timestamp())),
        )

    async def is_revoked(self, jti: str) -> bool:
        return await self._fetch_one("SELECT 1 FROM revoked_tokens WHERE jti = ?", (jti,)) is not None

    async def purge_expired(self, now: datetime) -> int:
        return await self._write("DELETE FROM revoked_tokens WHERE expires_at <= ?", (int(now.timestamp()),))

    async def reserve_attempt(self, keys: Sequence[str], window: int) -> Sequence[tuple[int, int, int]]:
        rows = ", ".join("(?, ?, 0, 1)" for _ in keys)
        marks = ", ".join("?" for _ in keys)
        async with self._transaction() as db:
            await self._purge_old_windows(db, window)
            async with db.execute(
                f"INSERT INTO throttle_counts (key, window_number, failures, in_flight) VALUES {rows}"
                " ON CONFLICT (key, window_number) DO UPDATE SET in_flight = in_flight + 1"
                " RETURNING key, failures, in_flight",
                tuple(value for key in keys for value in (key, window)),
            ) as cursor:
                current = {key: (failures, in_flight) for key, failures, in_flight in await cursor.fetchall()}
            async with db.execute(
                f"SELECT key, failures FROM throttle_counts WHERE window_number = ? AND key IN ({marks})",
                (window - 1, *keys),
            ) as cursor:
                previous: dict[str, int] = {row[0]: row[1] for row in await cursor.fetchall()}
        return [(*current[key], previous.get(key, 0)) for key in keys]

    async def _purge_old_windows(self, db: aiosqlite.Connection, window: int) -> None:
        """Once per window and process: counts and feed rows of windows that no longer count."""
        if window > self._purged_window:
            self._purged_window = window
            await db.execute("DELETE FROM throttle_counts WHERE window_number < ?", (window - 1,))
            await db.execute("DELETE FROM throttle_failures WHERE window_number < ?", (window - 1,))

    async def record_failure(self, keys: Sequence[str], window: int) -> Sequence[tuple[int, int, int]]:
        rows = ", ".join("(?, ?, 1, 0)" for _ in keys)
        async with self._transaction() as db:
            await self._purge_old_windows(db, window)
            await db.execute(
                f"INSERT INTO throttle_counts (key, window_number, failures, in_flight) VALUES {rows}"
                " ON CONFLICT (key, window_number) DO UPDATE SET failures = failures + 1",
                tuple(value for key in keys for value in (key, window)),
            )
        return await self.attempt_counts(keys, window)

    async def attempt_counts(self, keys: Sequence[str], window: int) -> Sequence[tuple[int, int, int]]:
        marks = ", ".join("?" for _ in keys)
        rows = await self._fetch_all(
            f"SELECT key, window_number, failures, in_flight FROM throttle_counts"
            f" WHERE window_number IN (?, ?) AND key IN ({marks})",
            (window, window - 1, *keys),
        )
        counts = {(key, number): (failures, in_flight) for key, number, failures, in_flight in rows}
        return [(*counts.get((key, window), (0, 0)), counts.get((key, window - 1), (0, 0))[0]) for key in keys]

    async def end_attempt(self, keys: Sequence[str], window: int, failed: bool) -> None:
        marks = ", ".join("?" for _ in keys)
        await self._write(
            f"UPDATE throttle_counts SET in_flight = in_flight - 1, failures = failures + ?"
            f" WHERE window_number = ? AND key IN ({marks})",
            (1 if failed else 0, window, *keys),
        )

    async def failures_since(self, last_id: int) -> tuple[Sequence[tuple[str, int, int]], int]:
        rows = await self._fetch_all(
            "SELECT id, key, window_number, failures FROM throttle_failures WHERE id > ? ORDER BY id", (last_id,)
        )
        return [(key, window, failures) for _, key, window, failures in rows], (rows[-1][0] if rows else last_id)


def _refuse_files_others_can_read(database: Path) -> None:
    for suffix in SQLITE_FILE_SUFFIXES:
        path = database.with_name(database.name + suffix)
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            continue
        except OSError as error:
            raise StorageUnavailable(f"cannot read the SQLite file {path}: {error.strerror}") from error
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise StorageUnavailable(f"the SQLite file {path} is readable by others; chmod 600 it")


def _marks(columns: str) -> str:
    """'?, ?, ...', one per column of a records.py column list."""
    return ", ".join("?" for _ in columns.split(","))
