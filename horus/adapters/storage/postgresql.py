"""PostgreSQL storage through asyncpg: for many Horus instances sharing one database.

(Being written: see the PostgreSQL issue.)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from horus.domain.client import Client
from horus.domain.errors import StorageUnavailable
from horus.domain.signing_key import StoredSigningKey
from horus.ports.clients import ClientRepository
from horus.ports.revocations import RevokedTokens
from horus.ports.signing_keys import SigningKeyRepository


class PostgreSQLStorage(ClientRepository, SigningKeyRepository, RevokedTokens):
    def __init__(self, url: str, pool_size: int = 10) -> None:
        self._url = url
        self._pool_size = pool_size

    async def open(self) -> None:
        raise StorageUnavailable("the PostgreSQL adapter is not available yet")

    async def close(self) -> None:
        return None

    async def ping(self) -> None:
        raise StorageUnavailable()

    async def get(self, client_id: str, fresh: bool = False) -> Client | None:
        raise StorageUnavailable()

    async def add(self, client: Client) -> None:
        raise StorageUnavailable()

    async def update(self, client: Client) -> None:
        raise StorageUnavailable()

    async def remove(self, client_id: str) -> None:
        raise StorageUnavailable()

    async def list_all(self) -> Sequence[Client]:
        raise StorageUnavailable()

    async def list_keys(self) -> Sequence[StoredSigningKey]:
        raise StorageUnavailable()

    async def add_key(self, key: StoredSigningKey) -> None:
        raise StorageUnavailable()

    async def revoke(self, jti: str, expires_at: datetime) -> None:
        raise StorageUnavailable()

    async def is_revoked(self, jti: str) -> bool:
        raise StorageUnavailable()

    async def purge_expired(self, now: datetime) -> int:
        raise StorageUnavailable()
