"""PostgreSQL storage through asyncpg: for many Horus instances sharing one database.

The same tables, migrations and rows as SQLiteStorage (records.py does the translation for
both). Every operation takes a connection from a small pool with short timeouts, so a
database that is down or unreachable fails fast with StorageUnavailable, and the pool
replaces broken connections by itself once the database is back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import asyncpg

from horus.adapters.storage.migrations import load_migrations
from horus.adapters.storage.records import CLIENT_COLUMNS, CLIENT_REVISION, KEY_COLUMNS, POSTGRESQL_ROWS
from horus.domain.client import Client
from horus.domain.errors import ClientAlreadyExists, ClientChangedConcurrently, ClientNotFound, StorageUnavailable
from horus.domain.signing_key import StoredSigningKey
from horus.ports.clients import ClientChanges, ClientRepository
from horus.ports.revocations import RevokedTokens
from horus.ports.signing_keys import SigningKeyRepository

CONNECT_TIMEOUT = 5.0
"""Seconds to open a connection (or wait for a free one): an unreachable server fails fast."""
COMMAND_TIMEOUT = 5.0
"""Seconds any one statement may take, waiting on locks included."""
CLOSE_TIMEOUT = 10.0
MIGRATION_LOCK = 0x686F727573
"""'horus' in ASCII: the advisory lock every instance takes before migrating, so that they migrate one at a time."""

DRIVER_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # refused or reset connections; TimeoutError (connect, acquire, command timeouts) is one too
    asyncpg.PostgresError,  # every server-side error, the connection ones (class 08, 57P01 shutdowns) included
    asyncpg.InterfaceError,  # closed connections and pools, bad parameters
    asyncpg.InternalClientError,
)


class PostgreSQLStorage(ClientRepository, ClientChanges, SigningKeyRepository, RevokedTokens):
    def __init__(self, url: str, pool_size: int = 10) -> None:
        self._url = url
        self._pool_size = pool_size
        self._pool: Any = None
        self._purged_window = 0

    async def open(self) -> None:
        if self._pool is not None:
            return
        try:
            pool = await asyncpg.create_pool(
                self._url,
                min_size=1,
                max_size=self._pool_size,
                timeout=CONNECT_TIMEOUT,
                command_timeout=COMMAND_TIMEOUT,
                server_settings={"application_name": "horus"},
            )
        except DRIVER_ERRORS as error:
            raise StorageUnavailable(self._cannot_open(error)) from None
        try:
            await self._migrate(pool)
        except BaseException as error:
            pool.terminate()
            if isinstance(error, DRIVER_ERRORS):
                raise StorageUnavailable(self._cannot_open(error)) from None
            raise
        self._pool = pool

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), CLOSE_TIMEOUT)
            except DRIVER_ERRORS:
                pool.terminate()  # close() has already done so on most errors; terminate() is idempotent

    async def ping(self) -> None:
        async with self._connection() as db:
            await db.fetchval("SELECT 1")

    async def _migrate(self, pool: Any) -> None:
        """One transaction under a transaction-scoped advisory lock: instances starting together queue here."""
        async with pool.acquire(timeout=CONNECT_TIMEOUT) as db, db.transaction():
            await db.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
            applied = {row[0] for row in await db.fetch("SELECT version FROM schema_migrations")}
            for migration in load_migrations("postgresql"):
                if migration.version in applied:
                    continue
                for statement in migration.statements:
                    await db.execute(statement)
                await db.execute("INSERT INTO schema_migrations (version) VALUES ($1)", migration.version)

    def _cannot_open(self, error: BaseException) -> str:
        """Names the database and the cause, never the password (the URL may hold one)."""
        parts = urlsplit(self._url)
        where = parts.netloc.rpartition("@")[2] + parts.path
        if parts.username:
            where = f"{unquote(parts.username)}@{where}"
        detail = f"{type(error).__name__}: {error}".rstrip(": ")
        passwords = [parts.password or "", *parse_qs(parts.query).get("password", [])]
        for password in filter(None, passwords):
            detail = detail.replace(password, "***").replace(unquote(password), "***")
        return f"cannot open the PostgreSQL database {where}: {detail}"

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        """A pooled connection; any driver error on the way in, during use or on release is StorageUnavailable.

        Callers catch the errors they translate otherwise (unique violations) inside the block.
        """
        pool = self._pool
        if pool is None:
            raise StorageUnavailable("the PostgreSQL storage is not open")
        try:
            async with pool.acquire(timeout=CONNECT_TIMEOUT) as db:
                yield db
        except DRIVER_ERRORS as error:
            if _is_connection_failure(error):
                # The pool drops the connection that failed, but its idle siblings were most likely cut off too
                # (a server restart, a failover, a network cut) and may not know it yet: replace them on their next
                # use rather than hand each to one more request that fails.
                await pool.expire_connections()
            raise StorageUnavailable() from error

    @asynccontextmanager
    async def listening(self, handlers: Mapping[str, Callable[[str], None]]) -> AsyncIterator[asyncio.Event]:
        """A connection of its own that LISTENs on each channel and calls its handler with every payload; yields an
        event that is set when the connection is lost."""
        try:
            connection = await asyncpg.connect(
                self._url, timeout=CONNECT_TIMEOUT, server_settings={"application_name": "horus-listener"}
            )
        except DRIVER_ERRORS as error:
            raise StorageUnavailable(self._cannot_open(error)) from None
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        try:
            for channel, handler in handlers.items():
                await connection.add_listener(channel, _payload_to(handler))
            yield lost
        except DRIVER_ERRORS as error:
            raise StorageUnavailable() from error
        finally:
            with contextlib.suppress(*DRIVER_ERRORS):
                await asyncio.wait_for(connection.close(), CLOSE_TIMEOUT)

    async def get(self, client_id: str, fresh: bool = False) -> Client | None:
        async with self._connection() as db:
            row = await db.fetchrow(f"SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id = $1", client_id)
        return POSTGRESQL_ROWS.found_client(row)

    async def _change_clients(self, sql: str, *parameters: Any) -> int:
        """The clients table's trigger (migration 0005) bumps the client revision in the same transaction."""
        async with self._connection() as db:
            return _row_count(await db.execute(sql, *parameters))

    async def add(self, client: Client) -> None:
        async with self._connection() as db:
            try:
                await db.execute(
                    f"INSERT INTO clients ({CLIENT_COLUMNS}) VALUES ({_placeholders(CLIENT_COLUMNS)})",
                    *POSTGRESQL_ROWS.client_to_row(client),
                )
            except asyncpg.UniqueViolationError as error:
                raise ClientAlreadyExists(client.client_id) from error

    async def update(self, client: Client) -> Client:
        client_id, *values, version = POSTGRESQL_ROWS.client_to_row(client)
        async with self._connection() as db:
            status = await db.execute(
                "UPDATE clients SET name = $1, scopes = $2, enabled = $3, secret_hash = $4, created_at = $5,"
                " updated_at = $6, not_before = $7, version = version + 1 WHERE client_id = $8 AND version = $9",
                *values,
                client_id,
                version,
            )
            if _row_count(status) == 0:
                stored = await db.fetchval("SELECT 1 FROM clients WHERE client_id = $1", client_id)
                raise ClientChangedConcurrently(client_id) if stored else ClientNotFound(client_id)
        return replace(client, version=version + 1)

    async def remove(self, client_id: str) -> None:
        if await self._change_clients("DELETE FROM clients WHERE client_id = $1", client_id) == 0:
            raise ClientNotFound(client_id)

    async def client_revision(self) -> int:
        async with self._connection() as db:
            return int(await db.fetchval(CLIENT_REVISION))

    # COLLATE "C" wherever text is ordered: code-point order, as SQLite's BINARY and Python's sort, whatever
    # linguistic collation the database was created with. Times are timestamptz, ordered and compared as times.

    async def list_all(self) -> Sequence[Client]:
        async with self._connection() as db:
            rows = await db.fetch(f'SELECT {CLIENT_COLUMNS} FROM clients ORDER BY client_id COLLATE "C"')
        return [POSTGRESQL_ROWS.client_from_row(row) for row in rows]

    async def list_keys(self) -> Sequence[StoredSigningKey]:
        async with self._connection() as db:
            rows = await db.fetch(f'SELECT {KEY_COLUMNS} FROM signing_keys ORDER BY created_at, kid COLLATE "C"')
        return [POSTGRESQL_ROWS.key_from_row(row) for row in rows]

    async def add_key(self, key: StoredSigningKey) -> None:
        async with self._connection() as db:
            try:
                await db.execute(
                    f"INSERT INTO signing_keys ({KEY_COLUMNS}) VALUES ({_placeholders(KEY_COLUMNS)})",
                    *POSTGRESQL_ROWS.key_to_row(key),
                )
            except asyncpg.UniqueViolationError as error:
                raise ValueError(f"signing key {key.kid} already stored") from error  # as MemoryStorage says it

    async def retire_keys(self, kids: Sequence[str], retires_at: datetime) -> None:
        async with self._connection() as db:
            await db.execute(
                "UPDATE signing_keys SET retires_at = $1"
                " WHERE kid = ANY($2::text[]) AND (retires_at IS NULL OR retires_at > $1)",
                retires_at,
                list(kids),
            )

    async def revoke(self, jti: str, expires_at: datetime) -> None:
        async with self._connection() as db:
            await db.execute(
                "INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING",
                jti,
                int(expires_at.timestamp()),
            )

    async def is_revoked(self, jti: str) -> bool:
        async with self._connection() as db:
            return await db.fetchval("SELECT 1 FROM revoked_tokens WHERE jti = $1", jti) is not None

    async def purge_expired(self, now: datetime) -> int:
        async with self._connection() as db:
            status = await db.execute("DELETE FROM revoked_tokens WHERE expires_at <= $1", int(now.timestamp()))
        return _row_count(status)

    async def reserve_attempt(self, keys: Sequence[str], window: int) -> Sequence[tuple[int, int, int]]:
        async with self._connection() as db:
            await self._purge_old_windows(db, window)
            rows = await db.fetch(
                "WITH reserved AS ("
                " INSERT INTO throttle_counts (key, window_number, failures, in_flight)"
                ' SELECT key, $2::bigint, 0, 1 FROM unnest($1::text[]) AS key ORDER BY key COLLATE "C"'
                " ON CONFLICT (key, window_number) DO UPDATE SET in_flight = throttle_counts.in_flight + 1"
                " RETURNING key, failures, in_flight)"
                " SELECT reserved.key, reserved.failures, reserved.in_flight, COALESCE(previous.failures, 0)"
                " FROM reserved LEFT JOIN throttle_counts AS previous"
                " ON previous.key = reserved.key AND previous.window_number = $2::bigint - 1",
                list(keys),
                window,
            )
        counts = {row[0]: (row[1], row[2], row[3]) for row in rows}
        return [counts[key] for key in keys]

    async def _purge_old_windows(self, db: Any, window: int) -> None:
        """Once per window and process: the counts of windows that no longer count."""
        if window > self._purged_window:
            self._purged_window = window
            await db.execute("DELETE FROM throttle_counts WHERE window_number < $1", window - 1)

    async def record_failure(self, keys: Sequence[str], window: int) -> Sequence[tuple[int, int, int]]:
        async with self._connection() as db:
            await self._purge_old_windows(db, window)
            rows = await db.fetch(
                "WITH failed AS ("
                " INSERT INTO throttle_counts (key, window_number, failures, in_flight)"
                ' SELECT key, $2::bigint, 1, 0 FROM unnest($1::text[]) AS key ORDER BY key COLLATE "C"'
                " ON CONFLICT (key, window_number) DO UPDATE SET failures = throttle_counts.failures + 1"
                " RETURNING key, failures, in_flight)"
                " SELECT failed.key, failed.failures, failed.in_flight, COALESCE(previous.failures, 0)"
                " FROM failed LEFT JOIN throttle_counts AS previous"
                " ON previous.key = failed.key AND previous.window_number = $2::bigint - 1",
                list(keys),
                window,
            )
        counts = {row[0]: (row[1], row[2], row[3]) for row in rows}
        return [counts[key] for key in keys]

    async def attempt_counts(self, keys: Sequence[str], window: int) -> Sequence[tuple[int, int, int]]:
        async with self._connection() as db:
            rows = await db.fetch(
                "SELECT key, window_number, failures, in_flight FROM throttle_counts"
                " WHERE key = ANY($1::text[]) AND window_number IN ($2::bigint, $2::bigint - 1)",
                list(keys),
                window,
            )
        counts = {(row[0], row[1]): (row[2], row[3]) for row in rows}
        return [(*counts.get((key, window), (0, 0)), counts.get((key, window - 1), (0, 0))[0]) for key in keys]

    async def end_attempt(self, keys: Sequence[str], window: int, failed: bool) -> None:
        # One statement per row, in key order, pipelined in one round trip: an UPDATE of several rows would lock
        # them in scan order and deadlock with a reservation that locks them in key order.
        async with self._connection() as db:
            await db.executemany(
                "UPDATE throttle_counts SET in_flight = in_flight - 1, failures = failures + $3"
                " WHERE key = $1 AND window_number = $2",
                [(key, window, 1 if failed else 0) for key in sorted(keys)],
            )


def _payload_to(handler: Callable[[str], None]) -> Callable[[Any, int, str, str], None]:
    """asyncpg calls a listener with (connection, pid, channel, payload)."""

    def listener(_connection: Any, _pid: int, _channel: str, payload: str) -> None:
        handler(payload)

    return listener


def _is_connection_failure(error: BaseException) -> bool:
    """Anything but an error the server reported about a statement, such as a constraint or a syntax error."""
    return not isinstance(error, asyncpg.PostgresError) or isinstance(
        error, asyncpg.PostgresConnectionError | asyncpg.exceptions.OperatorInterventionError
    )


def _placeholders(columns: str) -> str:
    """'$1, $2, ...', one per column of a records.py column list."""
    return ", ".join(f"${index}" for index in range(1, columns.count(",") + 2))


def _row_count(status: str) -> int:
    """The count at the end of a command status such as 'UPDATE 1' or 'DELETE 0'."""
    return int(status.rpartition(" ")[2])
