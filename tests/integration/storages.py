"""The storages every storage contract suite runs on (one list), and the entities the suites store."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from horus.adapters.storage.memory import MemoryStorage
from horus.adapters.storage.sqlite import SQLiteStorage
from horus.domain.client import Client
from horus.domain.signing_key import StoredSigningKey
from horus.ports.clients import ClientChanges, ClientRepository
from horus.ports.revocations import RevokedTokens
from horus.ports.signing_keys import SigningKeyRepository
from tests.fakes import T0
from tests.integration.postgresql_databases import ThrowawayPostgreSQLStorage

STORAGES = ("memory", "sqlite", "postgresql")


class Storage(ClientRepository, ClientChanges, SigningKeyRepository, RevokedTokens, Protocol):
    """What every storage adapter is: the ports it implements, opened and closed by the composition root."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...


def new_storage(kind: str, tmp_path: Path) -> Storage:
    """Not yet opened. PostgreSQL: a database of its own on the test server (postgresql_databases.py)."""
    if kind == "memory":
        return MemoryStorage()
    if kind == "sqlite":
        return SQLiteStorage(tmp_path / "h.db")
    if kind == "postgresql":
        return ThrowawayPostgreSQLStorage()
    raise ValueError(f"no storage {kind!r}; STORAGES lists them")


def make_client(client_id: str = "billing.apps", **changes: Any) -> Client:
    values: dict[str, Any] = {
        "client_id": client_id,
        "name": "Billing",
        "scopes": ("read", "write"),
        "enabled": True,
        "secret_hash": "hmac-sha256$" + "ab" * 32,
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(changes)
    return Client(**values)


def make_key(kid: str, created_at: datetime, retires_at: datetime | None = None) -> StoredSigningKey:
    return StoredSigningKey(
        kid=kid,
        algorithm="ES256",
        encrypted_private_key=bytes(range(256)),  # every byte value, so the encoding at rest is exercised
        public_jwk=f'{{"kty":"EC","crv":"P-256","kid":"{kid}"}}',
        created_at=created_at,
        activates_at=created_at + timedelta(minutes=5),
        retires_at=retires_at,
    )
