"""The attacks of the hardening issue (14) run against real `horus serve` processes, in each shape: one process and
`--workers 4` on SQLite, two instances on one PostgreSQL database (tests/integration/deployments.py)."""

from __future__ import annotations

import asyncio
import base64
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.integration.deployments import SHAPES, Deployment, deployment
from tests.integration.processes import create_client, horus_env

pytestmark = pytest.mark.slow
TOKEN = "/v1/oauth/token"
LEGACY = "/v1/nonspec/oauth2/auth/server"


@pytest.fixture(params=SHAPES)
def running(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    with deployment(request.param, tmp_path) as running:
        yield running


def basic(user: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def stored_text(env: dict[str, str]) -> bytes:
    """Every byte the database holds: the SQLite file (its write-ahead log checkpointed into it), or every row of
    every PostgreSQL table as text."""
    url = env["HORUS_STORAGE"]
    if url.startswith("sqlite:///"):
        database = Path(url.removeprefix("sqlite:///"))
        with closing(sqlite3.connect(database)) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return database.read_bytes()

    async def rows() -> bytes:
        connection = await asyncpg.connect(url)
        try:
            tables = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            dumped = [await connection.fetch(f'SELECT * FROM "{table[0]}"') for table in tables]
        finally:
            await connection.close()
        return repr(dumped).encode()

    return asyncio.run(rows())


def test_a_secret_sent_as_the_client_id_is_never_logged_nor_stored(running: Deployment, tmp_path: Path) -> None:
    """Item 1: `curl -u "$SECRET:$ID"` (id and secret swapped) must not put the secret in the log or the database."""
    client_id, secret = create_client(running.env, tmp_path)
    for url in running.urls * 2:
        swapped = httpx.post(url + TOKEN, data={"grant_type": "client_credentials"}, headers=basic(secret, client_id))
        assert 401 == swapped.status_code
        legacy = httpx.post(
            url + LEGACY, json={"grantType": "client_credentials", "clientId": secret, "clientSecret": client_id}
        )
        assert 401 == legacy.status_code
    for server in running.servers:
        server.stop()
        assert secret not in server.log_text()
    assert secret.encode() not in stored_text(running.env)


def test_a_secret_shaped_client_id_is_refused_at_registration(tmp_path: Path) -> None:
    from tests.integration.processes import run_horus

    env = horus_env(tmp_path)
    _, secret = create_client(env, tmp_path)
    result = run_horus(["clients", "create", "--client-id", secret], env, tmp_path)
    assert 1 == result.exit_code
    assert "horus_sk_" in result.stderr
    assert secret not in result.stderr
    assert 1 == len(result.stderr.strip().splitlines())


def raw_exchange(port: int, requests: bytes, until: bytes) -> bytes:
    """Sends raw HTTP/1.1 on one connection and reads until `until` has arrived, the peer closes, or 5 s pass."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(requests)
        received = b""
        while until not in received:
            chunk = connection.recv(65536)
            if not chunk:
                break
            received += chunk
    return received


def test_head_answers_headers_only_and_keeps_the_connection(running: Deployment) -> None:
    """Item 6: `curl -I /health` broke the keep-alive connection and logged an ASGI exception."""
    server = running.servers[0]
    host = f"127.0.0.1:{server.port}"
    head = f"HEAD /health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    get = f"GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    received = raw_exchange(server.port, head + get, until=b'{"status":"ok"}')
    head_answer, _, rest = received.partition(b"\r\n\r\n")
    assert head_answer.startswith(b"HTTP/1.1 200")
    assert b"content-length: 15" in head_answer.lower()
    assert rest.startswith(b"HTTP/1.1 200")  # the same connection answered the next request: no body came before it
    assert rest.endswith(b'{"status":"ok"}')
    server.stop()
    assert "Exception in ASGI application" not in server.log_text()
    assert "shorter than Content-Length" not in server.log_text()
