"""Row <-> entity translation shared by the SQL adapters, so both store exactly the same thing."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from horus.domain.client import Client
from horus.domain.signing_key import StoredSigningKey

CLIENT_COLUMNS = "client_id, name, scopes, enabled, secret_hash, created_at, updated_at"
CLIENT_REVISION = "SELECT revision FROM client_changes WHERE id = 1"
KEY_COLUMNS = "kid, algorithm, encrypted_private_key, public_jwk, created_at, activates_at, retires_at"


def client_to_row(client: Client) -> tuple[Any, ...]:
    return (
        client.client_id,
        client.name,
        " ".join(client.scopes),
        1 if client.enabled else 0,
        client.secret_hash,
        client.created_at.isoformat(),
        client.updated_at.isoformat(),
    )


# Decoded in place of a missing client, so that "no such client" costs what "this client" costs.
_ABSENT_CLIENT_ROW = (
    "absent-client",
    "",
    "read write",
    1,
    "hmac-sha256$" + "0" * 64,
    "2026-01-01T00:00:00+00:00",
    "2026-01-01T00:00:00+00:00",
)


def found_client(row: Sequence[Any] | None) -> Client | None:
    """The client of a looked-up row, or None; a missing row costs the same decoding (timing must not tell)."""
    if row is None:
        client_from_row(_ABSENT_CLIENT_ROW)
        return None
    return client_from_row(row)


def client_from_row(row: Sequence[Any]) -> Client:
    client_id, name, scopes, enabled, secret_hash, created_at, updated_at = row
    return Client(
        client_id=client_id,
        name=name,
        scopes=tuple(scopes.split(" ")) if scopes else (),
        enabled=bool(enabled),
        secret_hash=secret_hash,
        created_at=datetime.fromisoformat(created_at),
        updated_at=datetime.fromisoformat(updated_at),
    )


def key_to_row(key: StoredSigningKey) -> tuple[Any, ...]:
    return (
        key.kid,
        key.algorithm,
        base64.b64encode(key.encrypted_private_key).decode("ascii"),
        key.public_jwk,
        key.created_at.isoformat(),
        key.activates_at.isoformat(),
        key.retires_at.isoformat() if key.retires_at else None,
    )


def key_from_row(row: Sequence[Any]) -> StoredSigningKey:
    kid, algorithm, encrypted, public_jwk, created_at, activates_at, retires_at = row
    return StoredSigningKey(
        kid=kid,
        algorithm=algorithm,
        encrypted_private_key=base64.b64decode(encrypted),
        public_jwk=public_jwk,
        created_at=datetime.fromisoformat(created_at),
        activates_at=datetime.fromisoformat(activates_at),
        retires_at=datetime.fromisoformat(retires_at) if retires_at else None,
    )
