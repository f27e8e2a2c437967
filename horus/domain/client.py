"""The Client entity: a registered service that may obtain tokens, and the rules for its fields."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime

from horus.domain.client_secret import has_generated_prefix
from horus.domain.errors import InvalidClientData

MAX_NAME_LENGTH = 200
MAX_SCOPES = 100
# Client ids we register: URL-safe and free of ':' so that HTTP Basic can carry them unencoded.
_CLIENT_ID = re.compile(r"[A-Za-z0-9._~-]{1,256}")
# RFC 6749 section 3.3 scope-token: printable ASCII except space, '"' and '\'.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]{1,128}")


@dataclass(frozen=True, slots=True)
class Client:
    """Frozen, so that a change is only ever persisted through the repository."""

    client_id: str
    name: str
    scopes: tuple[str, ...]
    enabled: bool
    secret_hash: str
    created_at: datetime
    updated_at: datetime
    not_before: datetime | None = None
    """Tokens issued before it are inactive at introspection (None: no such limit). Set to a whole second,
    as a token's iat is: the administration decides on which side of it a change's own second falls."""
    version: int = 0
    """The stored client's version: the repository applies an update only to the version it was read at."""

    def with_changes(self, updated_at: datetime, **changes: object) -> Client:
        return replace(self, updated_at=updated_at, **changes)  # type: ignore[arg-type]

    def trusts_token_issued_at(self, iat: int) -> bool:
        """`iat`: when the token was issued, in whole seconds since the epoch (a JWT NumericDate)."""
        return self.not_before is None or iat >= self.not_before.timestamp()


def is_registrable_client_id(client_id: str) -> bool:
    """Anything shaped like a generated secret is never a client id: a caller who swaps id and secret must not
    get the secret logged or stored as an id."""
    return _CLIENT_ID.fullmatch(client_id) is not None and not has_generated_prefix(client_id)


def validate_client_id(client_id: str) -> str:
    if _CLIENT_ID.fullmatch(client_id) is None:
        raise InvalidClientData("clientId must be 1 to 256 characters of letters, digits, '.', '_', '~' or '-'")
    if has_generated_prefix(client_id):
        raise InvalidClientData("clientId must not start with horus_sk_, the prefix of generated secrets")
    return client_id


def validate_name(name: str) -> str:
    if len(name) > MAX_NAME_LENGTH or any(not ch.isprintable() for ch in name):
        raise InvalidClientData(f"name must be at most {MAX_NAME_LENGTH} printable characters")
    return name


def parse_scopes(scope: str) -> tuple[str, ...]:
    """A space-separated scope string into a sorted, de-duplicated tuple; empty string means no scopes."""
    tokens = scope.split(" ") if scope else []
    if any(not _SCOPE_TOKEN.fullmatch(token) for token in tokens):
        raise InvalidClientData(
            "scope must be space-separated tokens of printable ASCII without '\"' or '\\' (RFC 6749 3.3)"
        )
    unique = tuple(sorted(set(tokens)))
    if len(unique) > MAX_SCOPES:
        raise InvalidClientData(f"a client may have at most {MAX_SCOPES} scopes")
    return unique
