"""A process killed mid-write leaves a consistent SQLite database; SIGTERM drains in-flight requests."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from horus.adapters.storage.records import CLIENT_COLUMNS, SQLITE_ROWS
from tests.integration.processes import create_client, horus_env, running_server

pytestmark = pytest.mark.slow
KILLS = 8

WRITER = """
import asyncio, os, sys
from horus.app import build_container
from horus.settings import settings_from_env

async def main():
    container = build_container(settings_from_env(os.environ))
    admin = await container.administration.async_()
    index = int(sys.argv[1])
    while True:
        created = await admin.create(client_id=f"crash-{index}", scope="a b")
        await admin.rotate_secret(created.client.client_id)
        print(created.client.client_id, flush=True)
        index += 1

asyncio.run(main())
"""


def test_sigkill_during_client_writes_leaves_a_consistent_database(tmp_path: Path) -> None:
    env = horus_env(tmp_path, HORUS_SECRET_KEY="k" * 40)
    committed: list[str] = []
    next_index = 0
    for kill in range(KILLS):
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(next_index)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        time.sleep(0.6 + 0.1 * kill)
        writer.send_signal(signal.SIGKILL)
        output, _ = writer.communicate(timeout=10)
        committed.extend(output.split())
        next_index += 100_000

    with sqlite3.connect(tmp_path / "horus.db") as db:
        assert [("ok",)] == db.execute("PRAGMA integrity_check").fetchall()
        rows = db.execute(f"SELECT {CLIENT_COLUMNS} FROM clients").fetchall()
    clients = {client.client_id: client for client in map(SQLITE_ROWS.client_from_row, rows)}
    assert len(committed) > KILLS, "the writer never got going"
    assert set(committed) <= set(clients)  # everything reported as written is there
    for client in clients.values():  # and every row is a whole client
        assert ("a", "b") == client.scopes
        assert client.secret_hash.startswith("hmac-sha256$")
        assert 64 == len(client.secret_hash.removeprefix("hmac-sha256$"))


def test_sigterm_lets_in_flight_requests_finish_then_exits_zero(tmp_path: Path) -> None:
    env = horus_env(
        tmp_path,
        HORUS_THROTTLE_CLIENT_FAILURES="1000",
        HORUS_THROTTLE_CLIENT_GLOBAL_FAILURES="1000",
        HORUS_THROTTLE_ADDRESS_FAILURES="1000",
    )
    client_id, _ = create_client(env, tmp_path, "--client-id", "legacy")
    with running_server(env, tmp_path) as server:
        statuses: list[int | str] = []
        ready = threading.Barrier(13)  # the twelve senders and this thread

        def slow_request(index: int) -> None:
            # A legacy-shaped wrong secret costs one argon2id run (two at a time): these queue up.
            body = {"grantType": "client_credentials", "clientId": client_id, "clientSecret": f"wrong-{index}"}
            with httpx.Client(base_url=server.base_url, timeout=30) as client:  # made before the clock starts
                ready.wait(10)
                try:
                    statuses.append(client.post("/v1/nonspec/oauth2/auth/server", json=body).status_code)
                except httpx.HTTPError as error:
                    statuses.append(type(error).__name__)

        threads = [threading.Thread(target=slow_request, args=(index,)) for index in range(12)]
        for thread in threads:
            thread.start()
        ready.wait(10)
        time.sleep(0.5)  # every request has connected; twelve argon2id runs, two at a time, take seconds
        server.process.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join(30)
        exit_code = server.process.wait(15)
        with pytest.raises(httpx.ConnectError):
            httpx.get(server.base_url + "/health", timeout=2)
    assert [401] * 12 == statuses
    assert 0 == exit_code
