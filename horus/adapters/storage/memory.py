"""In-memory storage: a real adapter for tests and throwaway runs; nothing survives the process."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from horus.domain.client import Client
from horus.domain.errors import ClientAlreadyExists, ClientChangedConcurrently, ClientNotFound
from horus.domain.signing_key import StoredSigningKey
from horus.ports.clients import ClientChanges, ClientRepository
from horus.ports.revocations import RevokedTokens
from horus.ports.signing_keys import SigningKeyRepository


class MemoryStorage(ClientRepository, ClientChanges, SigningKeyRepository, RevokedTokens):
    """Holds frozen records, so a caller that changes a client without update() changes nothing."""

    def __init__(self) -> None:
        self._clients: dict[str, Client] = {}
        self._keys: dict[str, StoredSigningKey] = {}
        self._revoked: dict[str, datetime] = {}
        self._revision = 0

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def ping(self) -> None:
        return None

    async def get(self, client_id: str, fresh: bool = False) -> Client | None:
        return self._clients.get(client_id)

    async def add(self, client: Client) -> None:
        if client.client_id in self._clients:
            raise ClientAlreadyExists(client.client_id)
        self._clients[client.client_id] = client
        self._revision += 1

    async def update(self, client: Client) -> Client:
        stored = self._clients.get(client.client_id)
        if stored is None:
            raise ClientNotFound(client.client_id)
        if stored.version != client.version:
            raise ClientChangedConcurrently(client.client_id)
        updated = self._clients[client.client_id] = replace(client, version=client.version + 1)
        self._revision += 1
        return updated

    async def remove(self, client_id: str) -> None:
        if self._clients.pop(client_id, None) is None:
            raise ClientNotFound(client_id)
        self._revision += 1

    async def client_revision(self) -> int:
        return self._revision

    async def list_all(self) -> Sequence[Client]:
        return sorted(self._clients.values(), key=lambda client: client.client_id)

    async def list_keys(self) -> Sequence[StoredSigningKey]:
        return sorted(self._keys.values(), key=lambda key: (key.created_at, key.kid))

    async def add_key(self, key: StoredSigningKey) -> None:
        if key.kid in self._keys:
            raise ValueError(f"signing key {key.kid} already stored")
        self._keys[key.kid] = key

    async def retire_keys(self, kids: Sequence[str], retires_at: datetime) -> None:
        for kid in kids:
            key = self._keys.get(kid)
            if key is not None and (key.retires_at is None or key.retires_at > retires_at):
                self._keys[kid] = replace(key, retires_at=retires_at)

    async def revoke(self, jti: str, expires_at: datetime) -> None:
        self._revoked.setdefault(jti, expires_at)

    async def is_revoked(self, jti: str) -> bool:
        return jti in self._revoked

    async def purge_expired(self, now: datetime) -> int:
        expired = [jti for jti, expires_at in self._revoked.items() if expires_at <= now]
        for jti in expired:
            del self._revoked[jti]
        return len(expired)
