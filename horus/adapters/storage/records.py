"""Row <-> entity translation for the SQL adapters: the same columns, each dialect's own types for times and bytes.

SQLite keeps times as ISO 8601 text in UTC (so that text order is time order) and key bytes as
base64 text; PostgreSQL keeps timestamptz and bytea, which asyncpg hands over as aware datetimes
and bytes. Either way the entities that come back are equal to those that went in.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from horus.domain.client import Client
from horus.domain.signing_key import StoredSigningKey

CLIENT_COLUMNS = "client_id, name, scopes, enabled, secret_hash, created_at, updated_at, not_before, version"
CLIENT_REVISION = "SELECT revision FROM client_changes WHERE id = 1"
KEY_COLUMNS = "kid, algorithm, encrypted_private_key, public_jwk, created_at, activates_at, retires_at"


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _base64_text(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True, slots=True)
class RowFormat:
    """How one SQL dialect stores a moment and a byte string, both ways."""

    time_to_sql: Callable[[datetime], Any]
    time_from_sql: Callable[[Any], datetime]
    bytes_to_sql: Callable[[bytes], Any]
    bytes_from_sql: Callable[[Any], bytes]

    def client_to_row(self, client: Client) -> tuple[Any, ...]:
        return (
            client.client_id,
            client.name,
            " ".join(client.scopes),
            1 if client.enabled else 0,
            client.secret_hash,
            self.time_to_sql(client.created_at),
            self.time_to_sql(client.updated_at),
            self.time_to_sql(client.not_before) if client.not_before else None,
            client.version,
        )

    def client_from_row(self, row: Sequence[Any]) -> Client:
        client_id, name, scopes, enabled, secret_hash, created_at, updated_at, not_before, version = row
        return Client(
            client_id=client_id,
            name=name,
            scopes=tuple(scopes.split(" ")) if scopes else (),
            enabled=bool(enabled),
            secret_hash=secret_hash,
            created_at=self.time_from_sql(created_at),
            updated_at=self.time_from_sql(updated_at),
            not_before=self.time_from_sql(not_before) if not_before else None,
            version=version,
        )

    def found_client(self, row: Sequence[Any] | None) -> Client | None:
        return None if row is None else self.client_from_row(row)

    def key_to_row(self, key: StoredSigningKey) -> tuple[Any, ...]:
        return (
            key.kid,
            key.algorithm,
            self.bytes_to_sql(key.encrypted_private_key),
            key.public_jwk,
            self.time_to_sql(key.created_at),
            self.time_to_sql(key.activates_at),
            self.time_to_sql(key.retires_at) if key.retires_at else None,
        )

    def key_from_row(self, row: Sequence[Any]) -> StoredSigningKey:
        kid, algorithm, encrypted, public_jwk, created_at, activates_at, retires_at = row
        return StoredSigningKey(
            kid=kid,
            algorithm=algorithm,
            encrypted_private_key=self.bytes_from_sql(encrypted),
            public_jwk=public_jwk,
            created_at=self.time_from_sql(created_at),
            activates_at=self.time_from_sql(activates_at),
            retires_at=self.time_from_sql(retires_at) if retires_at else None,
        )


SQLITE_ROWS = RowFormat(_utc_text, datetime.fromisoformat, _base64_text, base64.b64decode)
POSTGRESQL_ROWS = RowFormat(_same, _same, _same, _same)
