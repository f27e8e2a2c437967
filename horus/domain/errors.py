"""Every failure a Horus rule reports, as a fact: what happened and to which field, never a wire code or status.

    HorusError
    ├── InvalidRequest            a field is missing, not text, too long or repeated (names the field)
    │   └── UnsupportedGrantType  the grant type is not client_credentials
    ├── InvalidScope              a scope outside the client's allowed set
    ├── TokenNotOwned             revocation of a token issued to another client
    ├── InvalidClient             unknown client, wrong secret or disabled client, deliberately alike
    ├── TooManyAttempts           too many failed authentications for a clientId or an address
    ├── ClientNotFound            management: no such client
    ├── ClientAlreadyExists       management: the clientId is taken
    ├── InvalidClientData         management: a name, id, scope or secret is unacceptable
    └── StorageUnavailable        the storage cannot be reached

How each looks on the wire (legacy six-digit code, HTTP status, OAuth error) is decided by the
HTTP adapter, in one table: horus/adapters/http/error_table.py.
"""

from __future__ import annotations

from enum import Enum


class HorusError(Exception):
    """Base of every expected failure; `message` is safe to show to the caller."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FieldProblem(Enum):
    MISSING = "missing"
    """Absent, null or empty."""
    NOT_TEXT = "not text"
    TOO_LONG = "too long"
    REPEATED = "repeated"
    CONFLICTING = "conflicting"
    """Contradicts another part of the request (two client authentication methods, say)."""
    UNSUPPORTED = "unsupported"
    """Well formed, but a value Horus does not offer."""


class InvalidRequest(HorusError):
    def __init__(self, field: str, problem: FieldProblem, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.problem = problem


class UnsupportedGrantType(InvalidRequest):
    def __init__(self, field: str) -> None:
        super().__init__(field, FieldProblem.UNSUPPORTED, f"{field} must be client_credentials")


class InvalidScope(HorusError):
    pass


class TokenNotOwned(HorusError):
    def __init__(self) -> None:
        super().__init__("the token was not issued to this client")


class InvalidClient(HorusError):
    """Deliberately says nothing about which of the id, the secret or the enabled flag was wrong."""

    def __init__(self) -> None:
        super().__init__("client authentication failed")


class TooManyAttempts(HorusError):
    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"too many failed attempts; retry after {retry_after_seconds} seconds")
        self.retry_after_seconds = retry_after_seconds


class ClientNotFound(HorusError):
    def __init__(self, client_id: str) -> None:
        super().__init__(f"no client with clientId {client_id!r}")
        self.client_id = client_id


class ClientAlreadyExists(HorusError):
    def __init__(self, client_id: str) -> None:
        super().__init__(f"a client with clientId {client_id!r} already exists")
        self.client_id = client_id


class InvalidClientData(HorusError):
    pass


class StorageUnavailable(HorusError):
    def __init__(self, message: str = "storage is unavailable, try again later") -> None:
        super().__init__(message)


class ClientChangedConcurrently(HorusError):
    """Management: another change to the client was written between reading it and writing this one."""

    def __init__(self, client_id: str) -> None:
        super().__init__(f"client {client_id!r} was being changed by someone else at the same time; try again")
        self.client_id = client_id
