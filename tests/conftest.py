"""Shared fixtures: a container on memory storage with cheap argon2, and an HTTP client on the real app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient

from horus.adapters.observability.logs import JsonFormatter
from horus.app import Container, build_container, create_app
from horus.domain.administration import ClientAdministration
from horus.settings import Settings, settings_from_env
from tests.fakes import cheap_argon2

TEST_SECRET_KEY = "test-server-key-0123456789abcdef-0123456789"


def make_settings(**env: str) -> Settings:
    # No client cache by default: in-process tests change clients and look at once; the cache has its own tests
    # and the process tests check the real propagation bound.
    base = {"HORUS_STORAGE": "memory://", "HORUS_SECRET_KEY": TEST_SECRET_KEY, "HORUS_CLIENT_CACHE_TTL": "0"}
    return settings_from_env({**base, **env})


def make_container(settings: Settings | None = None) -> Container:
    container = build_container(settings or make_settings())
    container.password_hasher.override(providers.Singleton(cheap_argon2))
    return container


@pytest.fixture(scope="session", autouse=True)
def in_process_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every record of the in-process apps, as JSON lines in the session's temp folder (see tests/zz_final)."""
    path = tmp_path_factory.getbasetemp() / "in-process.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("horus")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield path
    logger.removeHandler(handler)
    handler.close()


@pytest.fixture
def container() -> Container:
    return make_container()


@pytest.fixture
async def client(container: Container) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=create_app(container)) as test_client:  # type: ignore[arg-type]
        yield test_client


@pytest.fixture
def admin(container: Container, client: AsyncTestClient[Any]) -> Callable[[], Any]:
    """The ClientAdministration of the running app's container (same storage as the server)."""

    async def get() -> ClientAdministration:
        return await container.administration.async_()

    return get
