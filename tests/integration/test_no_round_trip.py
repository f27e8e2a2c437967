"""Issue 18: a successful token request for a cached client with no recent failures makes no storage round trip,
on SQLite and on PostgreSQL (where failures are counted in the database)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient

from horus.adapters.storage.postgresql import PostgreSQLStorage
from horus.adapters.storage.sqlite import SQLiteStorage
from horus.app import create_app, shutdown
from tests.conftest import make_container, make_settings
from tests.integration.postgresql_databases import fresh_database

LEGACY = "/v1/nonspec/oauth2/auth/server"
TOKEN = "/v1/oauth/token"
# What a request could ask the storage; the background work (the change watcher, the key refresh) asks other things.
REQUEST_CALLS = ("get", "reserve_attempt", "attempt_counts", "end_attempt", "record_failure", "is_revoked", "revoke")


def counting(storage_type: type[Any]) -> type[Any]:
    """The storage adapter, counting the calls a request could make."""

    class Counting(storage_type):  # type: ignore[misc,valid-type]
        calls: Counter[str]

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.calls = Counter()

    for name in REQUEST_CALLS:

        def counted(self: Any, *args: Any, __name: str = name, **kwargs: Any) -> Any:
            self.calls[__name] += 1
            return getattr(storage_type, __name)(self, *args, **kwargs)

        setattr(Counting, name, counted)
    return Counting


@pytest.fixture(params=["sqlite", "postgresql"])
async def storage_settings(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[type[Any], Any]]:
    if request.param == "sqlite":
        yield SQLiteStorage, (tmp_path / "h.db",)
        return
    async with fresh_database() as url:
        yield PostgreSQLStorage, (url, 5)


async def test_a_successful_token_request_for_a_cached_client_makes_no_storage_round_trip(
    storage_settings: tuple[type[Any], Any], tmp_path: Path
) -> None:
    storage_type, arguments = storage_settings
    scheme = "sqlite:///" + str(arguments[0]) if storage_type is SQLiteStorage else arguments[0]
    settings = make_settings(HORUS_STORAGE=scheme, HORUS_CLIENT_CACHE_TTL="1")
    registration = make_container(settings)  # as the CLI would, before the server starts
    try:
        created = await (await registration.administration.async_()).create(client_id="svc")
    finally:
        await shutdown(registration)
    container = make_container(settings)
    storage = counting(storage_type)(*arguments)
    container.storage.override(providers.Object(storage))
    async with AsyncTestClient(app=create_app(container)) as client:  # type: ignore[arg-type]
        body = {"grantType": "client_credentials", "clientId": "svc", "clientSecret": created.secret}
        assert 200 == (await client.post(LEGACY, json=body)).status_code  # the first look reads the client
        for _ in range(100):  # until the change watcher follows the changes (its first read, in the background)
            storage.calls.clear()
            assert 200 == (await client.post(LEGACY, json=body)).status_code
            if not storage.calls:
                break
            await asyncio.sleep(0.05)
        storage.calls.clear()
        for _ in range(50):
            assert 200 == (await client.post(LEGACY, json=body)).status_code
            standard = await client.post(TOKEN, data={"grant_type": "client_credentials"}, auth=("svc", created.secret))
            assert 200 == standard.status_code
        assert Counter() == storage.calls
