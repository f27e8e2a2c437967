"""PostgreSQL's own promises: migrations under concurrency, failing fast when the server is away, and recovering.

The shared contract suites (test_client_repository.py and the others) run on PostgreSQL too; these are the
behaviours only a server brings. Every test works in a database of its own.
"""

from __future__ import annotations

import asyncio
import base64
import time
import traceback
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest

from horus.adapters.storage import postgresql as postgresql_module
from horus.adapters.storage.migrations import load_migrations
from horus.adapters.storage.postgresql import PostgreSQLStorage
from horus.domain.errors import StorageUnavailable
from tests.fakes import T0
from tests.integration.postgresql_databases import (
    CuttableAsyncProxy,
    admin_connection,
    create_database,
    drop_database,
    fresh_database,
    new_database_name,
    server_address,
)
from tests.integration.postgresql_databases import database_url as url_of_database
from tests.integration.storages import make_client, make_key


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    async with fresh_database() as url:
        yield url


async def opened(url: str, pool_size: int = 10) -> PostgreSQLStorage:
    storage = PostgreSQLStorage(url, pool_size)
    await storage.open()
    return storage


@pytest.fixture
async def storage(database_url: str) -> AsyncIterator[PostgreSQLStorage]:
    storage = await opened(database_url)
    try:
        yield storage
    finally:
        await storage.close()


async def query(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    connection = await asyncpg.connect(url, timeout=10)
    try:
        return [tuple(row) for row in await connection.fetch(sql, *args)]
    finally:
        await connection.close()


async def outcome(storage: PostgreSQLStorage) -> str:
    """'ok' or 'unavailable': what one read does; anything else (a driver error) fails the test."""
    try:
        await storage.get("billing.apps")
    except StorageUnavailable:
        return "unavailable"
    return "ok"


def full_text(error: BaseException) -> str:
    """The error as a log line with its traceback would show it, chained errors included."""
    return "".join(traceback.format_exception(error))


# Migrations


async def test_postgresql_migrations_are_applied_once(database_url: str) -> None:
    for _ in range(3):
        await (await opened(database_url)).close()
    expected = sorted((migration.version,) for migration in load_migrations("postgresql"))
    assert expected == sorted(await query(database_url, "SELECT version FROM schema_migrations"))
    assert [(1,)] == await query(
        database_url, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'clients'"
    )


async def test_two_instances_opening_together_on_a_new_database_both_succeed_and_migrate_once(
    database_url: str,
) -> None:
    first, second = PostgreSQLStorage(database_url), PostgreSQLStorage(database_url)
    await asyncio.gather(first.open(), second.open())
    try:
        await first.add(make_client())
        assert make_client() == await second.get("billing.apps")
    finally:
        await first.close()
        await second.close()
    expected = sorted((migration.version,) for migration in load_migrations("postgresql"))
    assert expected == sorted(await query(database_url, "SELECT version FROM schema_migrations"))


# An absent server fails fast, and says so without the password


async def test_an_unreachable_server_is_storage_unavailable_quickly_without_the_password() -> None:
    storage = PostgreSQLStorage("postgresql://postgres:s3cret@127.0.0.1:1/test")
    started = time.monotonic()
    with pytest.raises(StorageUnavailable) as raised:
        await storage.open()
    assert time.monotonic() - started < 10
    assert "postgres@127.0.0.1:1/test" in raised.value.message
    assert "s3cret" not in full_text(raised.value)


@pytest.fixture
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real 5 s timeouts would make each of these tests wait 5 s; the behaviour is the same."""
    monkeypatch.setattr(postgresql_module, "CONNECT_TIMEOUT", 0.5)
    monkeypatch.setattr(postgresql_module, "COMMAND_TIMEOUT", 0.5)


@pytest.fixture
async def silent_server_port() -> AsyncIterator[int]:
    """A TCP server that accepts connections and never says a word, like a database behind a dead route."""
    accepted: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for writer in accepted:
            writer.close()
        await server.wait_closed()


@pytest.mark.usefixtures("short_timeouts")
async def test_a_server_that_never_answers_is_storage_unavailable_after_the_connect_timeout(
    silent_server_port: int,
) -> None:
    storage = PostgreSQLStorage(f"postgresql://postgres:s3cret@127.0.0.1:{silent_server_port}/test")
    started = time.monotonic()
    with pytest.raises(StorageUnavailable) as raised:
        await storage.open()
    assert time.monotonic() - started < 3
    assert "s3cret" not in full_text(raised.value)


async def test_a_missing_database_is_storage_unavailable_naming_it(database_url: str) -> None:
    missing = new_database_name()
    with pytest.raises(StorageUnavailable) as raised:
        await PostgreSQLStorage(database_url.rsplit("/", 1)[0] + "/" + missing).open()
    assert missing in raised.value.message


async def test_postgresql_used_before_open_or_after_close_is_storage_unavailable(database_url: str) -> None:
    storage = PostgreSQLStorage(database_url)
    with pytest.raises(StorageUnavailable):
        await storage.get("billing.apps")
    await storage.open()
    await storage.close()
    with pytest.raises(StorageUnavailable):
        await storage.get("billing.apps")


# Recovery without a restart


async def terminate_connections(database_url: str) -> int:
    database = database_url.rsplit("/", 1)[1]
    async with admin_connection() as admin:
        terminated = await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    return len(terminated)


async def test_terminated_connections_are_replaced_without_a_restart(
    storage: PostgreSQLStorage, database_url: str
) -> None:
    await storage.add(make_client())
    assert 1 <= await terminate_connections(database_url)
    assert await outcome(storage) in ("ok", "unavailable")
    assert make_client() == await storage.get("billing.apps")


async def test_a_whole_pool_of_terminated_connections_costs_at_most_one_failure(database_url: str) -> None:
    storage = await opened(database_url, pool_size=4)
    try:
        await asyncio.gather(*(storage.get("billing.apps") for _ in range(8)))  # warms several connections
        assert 2 <= await terminate_connections(database_url)
        outcomes = [await outcome(storage) for _ in range(6)]
        assert outcomes[0] in ("ok", "unavailable")
        assert ["ok"] * 5 == outcomes[1:]
    finally:
        await storage.close()


async def test_a_cut_network_is_storage_unavailable_and_the_storage_recovers_when_it_is_back(
    database_url: str,
) -> None:
    proxy = CuttableAsyncProxy(*server_address())
    await proxy.start()
    through_proxy = url_of_database(urlsplit(database_url).path.lstrip("/"), proxy.port)
    storage = await opened(through_proxy)
    try:
        await storage.add(make_client())
        proxy.cut()
        started = time.monotonic()
        assert ["unavailable"] * 3 == [await outcome(storage) for _ in range(3)]
        assert time.monotonic() - started < 10
        proxy.restore()
        assert make_client() == await storage.get("billing.apps")
        await storage.ping()
    finally:
        await storage.close()
        await proxy.close()


@pytest.mark.usefixtures("short_timeouts")
async def test_a_statement_blocked_past_the_command_timeout_is_storage_unavailable_and_frees_its_connection(
    database_url: str,
) -> None:
    storage = await opened(database_url, pool_size=1)  # one connection: a leaked one would wedge every later call
    try:
        await storage.add(make_client())
        locker = await asyncpg.connect(database_url, timeout=10)
        try:
            async with locker.transaction():
                await locker.execute("LOCK TABLE clients IN ACCESS EXCLUSIVE MODE")
                started = time.monotonic()
                assert ["unavailable"] * 3 == [await outcome(storage) for _ in range(3)]
                assert time.monotonic() - started < 5
        finally:
            await locker.close()
        assert make_client() == await storage.get("billing.apps")
        assert [make_client()] == list(await storage.list_all())
    finally:
        await storage.close()


# What is stored, and rows the old schema wrote

TEXT_SCHEMA_VERSION = 6
"""The last migration before 0007, which turned times into timestamptz and key bytes into bytea."""
TEXT_SCHEMA_CLIENT_COLUMNS = "client_id, name, scopes, enabled, secret_hash, created_at, updated_at"
TEXT_SCHEMA_KEY_COLUMNS = "kid, algorithm, encrypted_private_key, public_jwk, created_at, activates_at, retires_at"


async def migrate_up_to(url: str, version: int) -> None:
    """The database as a Horus of that schema version left it."""
    connection = await asyncpg.connect(url, timeout=10)
    try:
        async with connection.transaction():
            await connection.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)")
            for migration in load_migrations("postgresql"):
                if migration.version <= version:
                    for statement in migration.statements:
                        await connection.execute(statement)
                    await connection.execute("INSERT INTO schema_migrations (version) VALUES ($1)", migration.version)
    finally:
        await connection.close()


async def test_times_are_timestamptz_and_key_bytes_are_bytea(storage: PostgreSQLStorage, database_url: str) -> None:
    columns = await query(
        database_url,
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_name IN ('clients', 'signing_keys')"
        " AND column_name IN ('created_at', 'updated_at', 'activates_at', 'retires_at', 'encrypted_private_key')"
        " ORDER BY 1, 2",
    )
    timestamptz = "timestamp with time zone"
    assert [
        ("clients", "created_at", timestamptz),
        ("clients", "updated_at", timestamptz),
        ("signing_keys", "activates_at", timestamptz),
        ("signing_keys", "created_at", timestamptz),
        ("signing_keys", "encrypted_private_key", "bytea"),
        ("signing_keys", "retires_at", timestamptz),
    ] == columns


async def test_rows_written_by_the_text_schema_read_back_as_the_same_entities_after_migrating(
    database_url: str,
) -> None:
    await migrate_up_to(database_url, TEXT_SCHEMA_VERSION)
    # As the code of that schema wrote them: ISO 8601 text and base64 text (one time written with another offset).
    await query(
        database_url,
        f"INSERT INTO clients ({TEXT_SCHEMA_CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        *("billing.apps", "Billing", "read write", 1, "hmac-sha256$" + "ab" * 32),
        *("2026-11-28T12:00:00+00:00", "2026-11-28T18:30:00.250000+05:30"),
    )
    await query(
        database_url,
        f"INSERT INTO signing_keys ({TEXT_SCHEMA_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        *("k1", "ES256", base64.b64encode(bytes(range(256))).decode("ascii"), '{"kty":"EC","crv":"P-256","kid":"k1"}'),
        *("2026-11-28T12:00:00+00:00", "2026-11-28T12:05:00+00:00", "2026-11-29T12:00:00+00:00"),
    )
    storage = await opened(database_url)
    try:
        expected = make_client(updated_at=T0 + timedelta(hours=1, seconds=0.25), not_before=T0)  # from creation on
        assert expected == await storage.get("billing.apps")
        assert [make_key("k1", T0, retires_at=T0 + timedelta(days=1))] == list(await storage.list_keys())
    finally:
        await storage.close()


async def test_old_times_written_with_another_offset_are_compared_as_times_after_migrating(database_url: str) -> None:
    """As text, '2026-11-28T17:30:00+05:30' (12:00 UTC) sorts after '2026-11-28T12:30:00+00:00': no longer."""
    await migrate_up_to(database_url, TEXT_SCHEMA_VERSION)
    await query(
        database_url,
        f"INSERT INTO signing_keys ({TEXT_SCHEMA_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        *("k1", "ES256", base64.b64encode(b"key").decode("ascii"), "{}"),
        *("2026-11-28T17:00:00+05:30", "2026-11-28T17:05:00+05:30", "2026-11-28T17:30:00+05:30"),
    )
    storage = await opened(database_url)
    try:
        await storage.retire_keys(["k1"], T0 + timedelta(minutes=30))
        [key] = await storage.list_keys()
        assert T0 == key.retires_at  # the earlier retirement stays
    finally:
        await storage.close()


@pytest.fixture
async def linguistic_database_url() -> AsyncIterator[str]:
    """A database whose own text order is ICU's en-US; skipped on a server built without ICU (pgserver's)."""
    name = new_database_name()
    try:
        await create_database(name, "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8' TEMPLATE template0")
    except asyncpg.FeatureNotSupportedError as error:
        pytest.skip(f"no linguistic collation to test against: {error}")
    try:
        yield url_of_database(name)
    finally:
        await drop_database(name)


async def test_text_is_ordered_by_code_point_even_in_a_database_with_a_linguistic_collation(
    linguistic_database_url: str,
) -> None:
    """Memory and SQLite sort 'B' before 'a'; an ICU or en_US database would not, unless told to."""
    url = linguistic_database_url
    assert [(True,)] == await query(url, "SELECT 'a' < 'B'")  # the database's own order is linguistic
    storage = await opened(url)
    try:
        client_ids = ["b", "B", "a", "A", "_x", "a.2", "a-1"]
        for client_id in client_ids:
            await storage.add(make_client(client_id))
        for kid in client_ids:
            await storage.add_key(make_key(kid, T0))
        assert sorted(client_ids) == [client.client_id for client in await storage.list_all()]
        assert sorted(client_ids) == [key.kid for key in await storage.list_keys()]
    finally:
        await storage.close()
