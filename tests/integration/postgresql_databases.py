"""Throwaway PostgreSQL databases for tests, each dropped afterwards, and proxies that cut the network to them.

The server is the machine's PostgreSQL at ADMIN_URL (.ci/run starts it). When it cannot be
reached, the tests that need it fail: they are never skipped.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from horus.adapters.storage.postgresql import PostgreSQLStorage

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


def database_url(name: str) -> str:
    return urlunsplit(urlsplit(ADMIN_URL)._replace(path="/" + name))


def new_database_name() -> str:
    return "horus_test_" + secrets.token_hex(6)


@asynccontextmanager
async def admin_connection() -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(ADMIN_URL, timeout=10)
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

    def __init__(self, target_port: int = 5432) -> None:
        self._target_port = target_port
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
                upstream = socket.create_connection(("127.0.0.1", self._target_port), timeout=5)
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
