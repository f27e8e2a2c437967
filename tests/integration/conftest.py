"""The one parametrized storage fixture of the storage contract suites (test_client_repository.py and the others)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.storages import STORAGES, Storage, new_storage


@pytest.fixture(params=STORAGES)
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    """Each storage adapter, opened; closed (a PostgreSQL database dropped) afterwards."""
    opened = new_storage(request.param, tmp_path)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()
