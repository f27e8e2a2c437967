"""Throwaway PostgreSQL databases for tests, each dropped afterwards, and proxies that cut the network to them.

The server: the one HORUS_TEST_POSTGRES_URL names (an admin URL: the tests create and drop
databases of their own on it; .ci/run gives the machine's server), or else one that the test
session starts on first use from the binaries of the pgserver package (a dev dependency) and
stops at exit. So a machine with nothing but Python runs every PostgreSQL test; none is skipped.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import os
import secrets
import shutil
import socket
import tempfile
import threading
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from horus.adapters.storage.postgresql import PostgreSQLStorage

SERVER_URL_VARIABLE = "HORUS_TEST_POSTGRES_URL"
BUNDLED_SERVER_USER = "pgserver"
"""The system user pgserver itself runs PostgreSQL as when started by root (PostgreSQL refuses to run as root)."""


@functools.cache
def admin_url() -> str:
    """The test server's admin URL: HORUS_TEST_POSTGRES_URL, or a server of this session's own, started once."""
    return os.environ.get(SERVER_URL_VARIABLE) or _start_bundled_server()


def _start_bundled_server() -> str:
    """Starts PostgreSQL from the pgserver wheel's binaries on a free 127.0.0.1 port; stopped and deleted at exit.

    pgserver's own get_server() listens on a Unix socket only, while these tests need TCP (their URLs,
    the proxies that cut the network, `horus serve` processes), so this starts the same binaries with
    pg_ctl itself. As root it does what pgserver does: run the server as a system user of its own
    (created if missing) that can reach the binaries and owns the data directory.
    """
    with warnings.catch_warnings():
        # Importing pgserver asks platformdirs for a runtime directory, for a lock that only its get_server() takes.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pgserver  # only when no server is given
    from pgserver._commands import POSTGRES_BIN_PATH
    from pgserver.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
        find_suitable_port,
    )

    # pgserver makes one function per bundled binary as it is imported, which type checkers cannot see.
    initdb, pg_ctl = pgserver.initdb, pgserver.pg_ctl  # type: ignore[attr-defined]
    data = Path(tempfile.mkdtemp(prefix="horus-test-postgresql-"))
    run_as: str | None = None
    if os.geteuid() == 0:
        entry = ensure_user_exists(BUNDLED_SERVER_USER)
        assert entry is not None
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)  # group and others: read and execute
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
        os.chown(data, entry.pw_uid, entry.pw_gid)
        run_as = BUNDLED_SERVER_USER
    port = find_suitable_port("127.0.0.1")
    try:
        # The server's user may not be allowed into the caller's working directory: work in the data directory.
        as_server = {"user": run_as, "cwd": data}
        initdb(["--auth=trust", "--encoding=utf8", "--no-sync", "-U", "postgres"], pgdata=data, **as_server)
        # -F: no fsync, the data is thrown away; more connections than the default 100 for the process tests.
        options = f"-h 127.0.0.1 -p {port} -k {data} -F -c max_connections=300"
        pg_ctl(["-w", "-l", str(data / "server.log"), "-o", options, "start"], pgdata=data, timeout=60, **as_server)
    except BaseException as error:
        log = data / "server.log"
        if log.exists():
            error.add_note(f"PostgreSQL's log:\n{log.read_text('utf-8', 'replace')}")
        shutil.rmtree(data, ignore_errors=True)
        raise
    atexit.register(_stop_bundled_server, data, run_as)
    return f"postgresql://postgres@127.0.0.1:{port}/postgres"


def _stop_bundled_server(data: Path, run_as: str | None) -> None:
    import pgserver

    stop = pgserver.pg_ctl  # type: ignore[attr-defined]
    with suppress(Exception):
        stop(["-w", "-m", "immediate", "stop"], pgdata=data, user=run_as, cwd=data, timeout=30)
    shutil.rmtree(data, ignore_errors=True)


def server_address() -> tuple[str, int]:
    """Host and port of the test server, for the proxies that stand between it and Horus."""
    parts = urlsplit(admin_url())
    return parts.hostname or "127.0.0.1", parts.port or 5432


def database_url(name: str, port: int | None = None) -> str:
    """The URL of database `name` on the test server; through `port` on 127.0.0.1 (a proxy) when given."""
    parts = urlsplit(admin_url())._replace(path="/" + name)
    if port is not None:
        user = parts.netloc.rpartition("@")[0]
        parts = parts._replace(netloc=f"{user}@127.0.0.1:{port}" if user else f"127.0.0.1:{port}")
    return urlunsplit(parts)


def new_database_name() -> str:
    return "horus_test_" + secrets.token_hex(6)


@asynccontextmanager
async def admin_connection() -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(admin_url(), timeout=10)
    try:
        yield connection
    finally:
        await connection.close()


async def create_database(name: str, options: str = "") -> None:
    async with admin_connection() as admin:
        await admin.execute(f"CREATE DATABASE {name} {options}")


async def drop_database(name: str) -> None:
    async with admin_connection() as admin:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@asynccontextmanager
async def fresh_database(options: str = "") -> AsyncIterator[str]:
    """A new, empty database; yields its URL."""
    name = new_database_name()
    await create_database(name, options)
    try:
        yield database_url(name)
    finally:
        await drop_database(name)


@contextmanager
def database_for_processes() -> Iterator[str]:
    """fresh_database for tests without an event loop (those that drive `horus` processes); yields the name."""
    name = new_database_name()
    asyncio.run(create_database(name))
    try:
        yield name
    finally:
        asyncio.run(drop_database(name))


class ThrowawayPostgreSQLStorage(PostgreSQLStorage):
    """A PostgreSQLStorage on a database of its own: open() creates the database, close() drops it."""

    def __init__(self, **options: Any) -> None:
        self.database = new_database_name()
        super().__init__(database_url(self.database), **options)

    async def open(self) -> None:
        await create_database(self.database)
        try:
            await super().open()
        except BaseException:
            await drop_database(self.database)
            raise

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            await drop_database(self.database)


class CuttableAsyncProxy:
    """Forwards 127.0.0.1:<port> to a PostgreSQL server on the test's own event loop until cut(); restore() reopens it.

    In-process tests use this rather than postgres.CuttableProxy, whose cut() shuts sockets down
    without closing them (a ResourceWarning, so an error here).
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._cut = False
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut:
            writer.close()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, upstream_writer}
        await asyncio.gather(self._pump(reader, upstream_writer), self._pump(upstream_reader, writer))

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except OSError:
            pass
        finally:
            sink.close()
            self._writers.discard(sink)

    def cut(self) -> None:
        self._cut = True
        for writer in self._writers:
            writer.close()
        self._writers.clear()

    def restore(self) -> None:
        self._cut = False

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


class CuttableThreadedProxy:
    """Like CuttableAsyncProxy, in threads, for server processes: forwards to PostgreSQL until cut()."""

    def __init__(self) -> None:
        self._target = server_address()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._open = threading.Event()
        self._open.set()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._open.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()

    def cut(self) -> None:
        self._open.clear()
        with self._lock:
            for sock in self._sockets:
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def restore(self) -> None:
        self._open.set()

    def close(self) -> None:
        self.cut()
        self._listener.close()
