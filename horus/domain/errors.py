"""Every error Horus can report, and the one table of six-digit codes the legacy envelope carries.

The code is the HTTP status followed by three digits that classify the error. The
HTTP adapters decide how an error is rendered; the domain only says what happened.

    HorusError
    ├── InvalidRequest            400xxx  the request is malformed (names the field)
    │   └── UnsupportedGrantType  400020
    ├── InvalidScope              400030  a scope outside the client's allowed set
    ├── TokenNotOwned             400040  revocation of a token issued to another client
    ├── InvalidClient             401122  unknown client, wrong secret or disabled client
    ├── TooManyAttempts           429001  too many failed authentications for a clientId or address
    ├── ClientNotFound            404100  management: no such client
    ├── ClientAlreadyExists       409100  management: the clientId is taken
    ├── InvalidClientData         422100  management: a name, id, scope or secret is unacceptable
    └── StorageUnavailable        503001  the storage cannot be reached
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ErrorCode(IntEnum):
    """Six-digit codes: HTTP status * 1000 + a classifier. Documented in README.md."""

    SUCCESS = 200000
    BAD_REQUEST = 400000
    BODY_MISSING = 400001
    BODY_NOT_JSON = 400002
    BODY_NOT_OBJECT = 400003
    BODY_TOO_DEEP = 400004
    FIELD_REQUIRED = 400010
    FIELD_NOT_STRING = 400011
    FIELD_TOO_LONG = 400012
    UNSUPPORTED_GRANT_TYPE = 400020
    INVALID_SCOPE = 400030
    TOKEN_NOT_OWNED = 400040
    INVALID_CLIENT = 401122
    NOT_FOUND = 404000
    CLIENT_NOT_FOUND = 404100
    METHOD_NOT_ALLOWED = 405000
    CLIENT_ALREADY_EXISTS = 409100
    BODY_TOO_LARGE = 413000
    UNSUPPORTED_MEDIA_TYPE = 415000
    INVALID_CLIENT_DATA = 422100
    TOO_MANY_ATTEMPTS = 429001
    INTERNAL_ERROR = 500000
    STORAGE_UNAVAILABLE = 503001

    @property
    def http_status(self) -> int:
        return int(self) // 1000


INVALID_CLIENT_MESSAGE = "clientId or clientSecret are invalid"


class HorusError(Exception):
    """Base of every expected failure. `code` classifies it; `message` is safe to show to the caller."""

    code: ErrorCode = ErrorCode.INTERNAL_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(HorusError):
    code = ErrorCode.FIELD_REQUIRED

    def __init__(self, message: str, code: ErrorCode = ErrorCode.FIELD_REQUIRED, field: str | None = None):
        super().__init__(message)
        self.code = code
        self.field = field


class UnsupportedGrantType(InvalidRequest):
    def __init__(self, field: str = "grantType") -> None:
        super().__init__(f"{field} must be client_credentials", ErrorCode.UNSUPPORTED_GRANT_TYPE, field)


class InvalidScope(HorusError):
    code = ErrorCode.INVALID_SCOPE


class TokenNotOwned(HorusError):
    code = ErrorCode.TOKEN_NOT_OWNED

    def __init__(self) -> None:
        super().__init__("the token was not issued to this client")


class InvalidClient(HorusError):
    """Deliberately says nothing about which of clientId, secret or enabled flag was wrong."""

    code = ErrorCode.INVALID_CLIENT

    def __init__(self) -> None:
        super().__init__(INVALID_CLIENT_MESSAGE)


class TooManyAttempts(HorusError):
    code = ErrorCode.TOO_MANY_ATTEMPTS

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"too many failed attempts; retry after {retry_after_seconds} seconds")
        self.retry_after_seconds = retry_after_seconds


class ClientNotFound(HorusError):
    code = ErrorCode.CLIENT_NOT_FOUND

    def __init__(self, client_id: str) -> None:
        super().__init__(f"no client with clientId {client_id!r}")
        self.client_id = client_id


class ClientAlreadyExists(HorusError):
    code = ErrorCode.CLIENT_ALREADY_EXISTS

    def __init__(self, client_id: str) -> None:
        super().__init__(f"a client with clientId {client_id!r} already exists")
        self.client_id = client_id


class InvalidClientData(HorusError):
    code = ErrorCode.INVALID_CLIENT_DATA


class StorageUnavailable(HorusError):
    code = ErrorCode.STORAGE_UNAVAILABLE

    def __init__(self, message: str = "storage is unavailable, try again later") -> None:
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class ErrorRow:
    code: ErrorCode
    meaning: str


ERROR_TABLE: tuple[ErrorRow, ...] = (
    ErrorRow(ErrorCode.SUCCESS, "success"),
    ErrorRow(ErrorCode.BAD_REQUEST, "the HTTP request itself is malformed (e.g. a bad Content-Length)"),
    ErrorRow(ErrorCode.BODY_MISSING, "the request has no body"),
    ErrorRow(ErrorCode.BODY_NOT_JSON, "the body is not valid JSON (or not valid UTF-8)"),
    ErrorRow(ErrorCode.BODY_NOT_OBJECT, "the body is JSON but not an object"),
    ErrorRow(ErrorCode.BODY_TOO_DEEP, "the body nests arrays or objects too deeply"),
    ErrorRow(ErrorCode.FIELD_REQUIRED, "a required field is missing, null or empty; the message names it"),
    ErrorRow(ErrorCode.FIELD_NOT_STRING, "a field is not a string; the message names it"),
    ErrorRow(ErrorCode.FIELD_TOO_LONG, "a field is longer than its limit; the message names it"),
    ErrorRow(ErrorCode.UNSUPPORTED_GRANT_TYPE, "grantType is not client_credentials"),
    ErrorRow(
        ErrorCode.INVALID_SCOPE,
        "a requested scope is not allowed for the client (not raised by the legacy endpoint, which takes no scope)",
    ),
    ErrorRow(ErrorCode.INVALID_CLIENT, "clientId or clientSecret are invalid (unknown, wrong or disabled)"),
    ErrorRow(ErrorCode.NOT_FOUND, "no such endpoint"),
    ErrorRow(ErrorCode.METHOD_NOT_ALLOWED, "the endpoint does not accept this method"),
    ErrorRow(ErrorCode.BODY_TOO_LARGE, "the body is larger than the endpoint accepts (16 KiB)"),
    ErrorRow(ErrorCode.UNSUPPORTED_MEDIA_TYPE, "the body is not declared with the content type the endpoint takes"),
    ErrorRow(ErrorCode.TOO_MANY_ATTEMPTS, "too many failed attempts for this clientId or address; see Retry-After"),
    ErrorRow(ErrorCode.INTERNAL_ERROR, "an unexpected error; logged with the request id"),
    ErrorRow(ErrorCode.STORAGE_UNAVAILABLE, "the storage cannot be reached; retry later"),
)
