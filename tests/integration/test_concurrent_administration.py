"""Administrators changing one client at the same moment, through real `horus` processes: no change is lost.

Each pair is a `rotate-secret` and a `disable` of one client, started together; every command either
takes effect and stays (the client is disabled, the printed secret is the stored one) or fails
loudly (one line, non-zero exit). The processes run the real CLI on storage whose reads take
READ_DELAY longer (a slow disk, a distant database), so that the two commands of a pair both read
the client before either writes it, whatever the jitter of starting two processes: before clients
carried a version, nearly every pair lost one of its two changes.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from horus.app import build_container, shutdown
from horus.domain.client import Client
from horus.settings import settings_from_env
from tests.integration.postgresql_databases import database_for_processes, database_url
from tests.integration.processes import CliResult, horus_env

pytestmark = pytest.mark.slow
PAIRS = 30
PAIRS_AT_ONCE = 5  # each process holds a database connection while it runs
READ_DELAY = 0.5
SLOW_READS_CLI = f"""
import asyncio, functools, sys
from horus.adapters.storage.postgresql import PostgreSQLStorage
from horus.adapters.storage.sqlite import SQLiteStorage
from horus.cli import main

def slowed(get):
    @functools.wraps(get)
    async def get_then_wait(*args, **kwargs):
        found = await get(*args, **kwargs)
        await asyncio.sleep({READ_DELAY})
        return found
    return get_then_wait

SQLiteStorage.get = slowed(SQLiteStorage.get)
PostgreSQLStorage.get = slowed(PostgreSQLStorage.get)
sys.exit(main(sys.argv[1:]))
"""
SERVER_KEY = "concurrent-administration-server-key-0123456789"


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    if request.param == "sqlite":
        yield horus_env(tmp_path, HORUS_SECRET_KEY=SERVER_KEY)
        return
    with database_for_processes() as name:
        yield horus_env(tmp_path, HORUS_STORAGE=database_url(name), HORUS_SECRET_KEY=SERVER_KEY)


async def create_clients(env: dict[str, str], client_ids: list[str]) -> None:
    container = build_container(settings_from_env(env))
    try:
        admin = await container.administration.async_()
        for client_id in client_ids:
            await admin.create(client_id=client_id)
    finally:
        await shutdown(container)


async def stored_state(env: dict[str, str], printed: dict[str, str]) -> tuple[dict[str, Client], dict[str, bool]]:
    """Every client as stored, and whether each printed secret verifies against its stored hash."""
    container = build_container(settings_from_env(env))
    try:
        clients = {client.client_id: client for client in await (await container.administration.async_()).list_all()}
        hasher = container.secret_hasher()
        works = {
            client_id: await hasher.verify(client_id, secret, clients[client_id].secret_hash)
            for client_id, secret in printed.items()
        }
    finally:
        await shutdown(container)
    return clients, works


def rotate_and_disable_together(client_id: str, env: dict[str, str], cwd: Path) -> tuple[CliResult, CliResult]:
    started = [
        subprocess.Popen(
            [sys.executable, "-c", SLOW_READS_CLI, *args],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in (["clients", "rotate-secret", client_id, "--json"], ["clients", "disable", client_id])
    ]
    rotate, disable = (finished(process) for process in started)
    return rotate, disable


def finished(process: subprocess.Popen[str]) -> CliResult:
    stdout, stderr = process.communicate(timeout=60)
    return CliResult(process.returncode, stdout, stderr)


def failed_loudly(result: CliResult) -> bool:
    """A non-zero exit with one line that says why, never a traceback."""
    return result.exit_code != 0 and result.stderr.startswith("horus: ") and result.stderr.count("\n") == 1


def test_simultaneous_rotations_and_disables_of_one_client_lose_neither(env: dict[str, str], tmp_path: Path) -> None:
    client_ids = [f"pair-{index:02d}" for index in range(PAIRS)]
    asyncio.run(create_clients(env, client_ids))
    with ThreadPoolExecutor(PAIRS_AT_ONCE) as pool:
        pairs = list(pool.map(lambda client_id: rotate_and_disable_together(client_id, env, tmp_path), client_ids))
    outcomes = dict(zip(client_ids, pairs, strict=True))
    printed = {
        client_id: rotate.json()["clientSecret"] for client_id, (rotate, _) in outcomes.items() if rotate.exit_code == 0
    }
    clients, works = asyncio.run(stored_state(env, printed))

    lost_disables = [i for i, (_, disable) in outcomes.items() if disable.exit_code == 0 and clients[i].enabled]
    lost_rotations = [client_id for client_id, secret_works in works.items() if not secret_works]
    quiet_failures = [
        (client_id, result.exit_code, result.stderr)
        for client_id, pair in outcomes.items()
        for result in pair
        if result.exit_code != 0 and not failed_loudly(result)
    ]
    assert (0, 0, []) == (len(lost_disables), len(lost_rotations), quiet_failures), (lost_disables, lost_rotations)
    failures = sum(result.exit_code != 0 for pair in outcomes.values() for result in pair)
    assert 0 == failures, "conflicts are retried: every command should have succeeded"
