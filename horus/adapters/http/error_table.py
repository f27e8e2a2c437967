"""The one table from errors to the wire: legacy six-digit code, HTTP status, RFC 6749 error, headers.

The six-digit codes are the legacy endpoint's contract (the seed document): the HTTP status
followed by three digits that classify the error. The standard endpoints answer RFC 6749
section 5.2's {"error", "error_description"} with the same status, except where a row says
otherwise. Every handler, the two raw token handlers and Litestar's exception handlers alike,
answers through `legacy_error` or `oauth_error` below. README.md's error table is this table
(tests/unit/test_readme.py keeps them equal).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.types import ExceptionHandlersMap

from horus.adapters.http.legacy_envelope import LegacyEnvelope
from horus.adapters.http.request_context import annotate
from horus.domain.errors import (
    ClientAlreadyExists,
    ClientChangedConcurrently,
    ClientNotFound,
    FieldProblem,
    HorusError,
    InvalidClient,
    InvalidClientData,
    InvalidRequest,
    InvalidScope,
    StorageUnavailable,
    TokenNotOwned,
    TooManyAttempts,
    UnsupportedGrantType,
)

LOG = logging.getLogger("horus.http")
JSON = "application/json"
RawHeaders = tuple[tuple[bytes, bytes], ...]


@dataclass(frozen=True, slots=True)
class WireError:
    code: int
    """The legacy six-digit code."""
    status: int
    oauth_error: str
    meaning: str
    """What README.md's table says of it."""
    legacy_message: str | None = None
    """The legacy envelope's fixed message, where the contract fixes one; else the error's own message."""
    oauth_status: int | None = None
    """The status on the standard endpoints, where RFC 6749 wants another one."""


SUCCESS = WireError(200000, 200, "", "success")
MALFORMED_HTTP = WireError(
    400000, 400, "invalid_request", "the HTTP request itself is malformed (e.g. a bad Content-Length)"
)
BODY_MISSING = WireError(400001, 400, "invalid_request", "the request has no body")
BODY_NOT_JSON = WireError(400002, 400, "invalid_request", "the body is not valid JSON (or not valid UTF-8)")
BODY_NOT_OBJECT = WireError(400003, 400, "invalid_request", "the body is JSON but not an object")
BODY_TOO_DEEP = WireError(400004, 400, "invalid_request", "the body nests arrays or objects too deeply")
BODY_NOT_FORM = WireError(
    400005, 400, "invalid_request", "the body is not form data (not UTF-8, or more than 32 parameters)"
)
FIELD_MISSING = WireError(
    400010, 400, "invalid_request", "a required field is missing, null or empty; the message names it"
)
FIELD_NOT_TEXT = WireError(400011, 400, "invalid_request", "a field is not a string; the message names it")
FIELD_TOO_LONG = WireError(400012, 400, "invalid_request", "a field is longer than its limit; the message names it")
FIELD_REPEATED = WireError(400013, 400, "invalid_request", "a form parameter is repeated; the message names it")
FIELD_CONFLICTING = WireError(
    400014, 400, "invalid_request", "two parts of the request disagree (e.g. two client authentication methods)"
)
UNSUPPORTED_GRANT_TYPE = WireError(400020, 400, "unsupported_grant_type", "the grant type is not client_credentials")
INVALID_SCOPE = WireError(
    400030,
    400,
    "invalid_scope",
    "a requested scope is not allowed for the client (not raised by the legacy endpoint, which takes no scope)",
)
TOKEN_NOT_OWNED = WireError(400040, 400, "unauthorized_client", "revoking a token issued to another client")
INVALID_CLIENT = WireError(
    401122,
    401,
    "invalid_client",
    "clientId or clientSecret are invalid (unknown, wrong or disabled)",
    legacy_message="clientId or clientSecret are invalid",
)
NOT_FOUND = WireError(404000, 404, "invalid_request", "no such endpoint")
METHOD_NOT_ALLOWED = WireError(405000, 405, "invalid_request", "the endpoint does not accept this method")
BODY_TOO_LARGE = WireError(413000, 413, "invalid_request", "the body is larger than the endpoint accepts (16 KiB)")
UNSUPPORTED_MEDIA_TYPE = WireError(
    415000,
    415,
    "invalid_request",
    "the body is not declared with the content type the endpoint takes (400 on the standard endpoints)",
    oauth_status=400,
)
TOO_MANY_ATTEMPTS = WireError(
    429001, 429, "temporarily_unavailable", "too many failed attempts for this clientId or address; see Retry-After"
)
INTERNAL_ERROR = WireError(
    500000, 500, "server_error", "an unexpected error; logged with the request id", legacy_message="internal error"
)
STORAGE_UNAVAILABLE = WireError(503001, 503, "temporarily_unavailable", "the storage cannot be reached; retry later")

ERROR_TABLE: tuple[WireError, ...] = (
    SUCCESS,
    MALFORMED_HTTP,
    BODY_MISSING,
    BODY_NOT_JSON,
    BODY_NOT_OBJECT,
    BODY_TOO_DEEP,
    BODY_NOT_FORM,
    FIELD_MISSING,
    FIELD_NOT_TEXT,
    FIELD_TOO_LONG,
    FIELD_REPEATED,
    FIELD_CONFLICTING,
    UNSUPPORTED_GRANT_TYPE,
    INVALID_SCOPE,
    TOKEN_NOT_OWNED,
    INVALID_CLIENT,
    NOT_FOUND,
    METHOD_NOT_ALLOWED,
    BODY_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    TOO_MANY_ATTEMPTS,
    INTERNAL_ERROR,
    STORAGE_UNAVAILABLE,
)

_FIELD_ROWS = {
    FieldProblem.MISSING: FIELD_MISSING,
    FieldProblem.NOT_TEXT: FIELD_NOT_TEXT,
    FieldProblem.TOO_LONG: FIELD_TOO_LONG,
    FieldProblem.REPEATED: FIELD_REPEATED,
    FieldProblem.CONFLICTING: FIELD_CONFLICTING,
    FieldProblem.UNSUPPORTED: UNSUPPORTED_GRANT_TYPE,
}
# Management errors never reach HTTP today; a handler that let one through would answer 500.
_DOMAIN_ROWS: dict[type[HorusError], WireError] = {
    UnsupportedGrantType: UNSUPPORTED_GRANT_TYPE,
    InvalidScope: INVALID_SCOPE,
    TokenNotOwned: TOKEN_NOT_OWNED,
    InvalidClient: INVALID_CLIENT,
    TooManyAttempts: TOO_MANY_ATTEMPTS,
    StorageUnavailable: STORAGE_UNAVAILABLE,
}
_UNMAPPED_DOMAIN_ERRORS = (ClientNotFound, ClientAlreadyExists, InvalidClientData, ClientChangedConcurrently)
_STATUS_ROWS = {
    400: MALFORMED_HTTP,
    404: NOT_FOUND,
    405: METHOD_NOT_ALLOWED,
    413: BODY_TOO_LARGE,
    415: UNSUPPORTED_MEDIA_TYPE,
}
_BASIC_CHALLENGE = (b"www-authenticate", b'Basic realm="horus", charset="UTF-8"')


class RequestRejected(Exception):
    """A problem of the HTTP request itself, found by an adapter before any domain rule runs."""

    def __init__(self, wire: WireError, message: str | None = None, headers: RawHeaders = ()) -> None:
        super().__init__(message or wire.meaning)
        self.wire = wire
        self.message = message or wire.meaning
        self.headers = headers


@dataclass(frozen=True, slots=True)
class Described:
    wire: WireError
    message: str
    headers: RawHeaders


def describe(error: BaseException) -> Described:
    """Which row an error is, the message safe to show, and the headers it needs."""
    if isinstance(error, RequestRejected):
        return Described(error.wire, error.message, error.headers)
    if isinstance(error, HorusError) and not isinstance(error, _UNMAPPED_DOMAIN_ERRORS):
        wire = _FIELD_ROWS[error.problem] if isinstance(error, InvalidRequest) else _domain_row(error)
        if wire is not None:
            headers: RawHeaders = ()
            if isinstance(error, TooManyAttempts):
                headers = ((b"retry-after", str(error.retry_after_seconds).encode("ascii")),)
            elif wire is INVALID_CLIENT:
                headers = (_BASIC_CHALLENGE,)  # RFC 9110 15.5.2: every 401 carries a challenge
            if wire.status >= 500:
                LOG.warning("request failed: %s", error.message, extra={"code": wire.code})
            return Described(wire, error.message, headers)
    if isinstance(error, HTTPException) and error.status_code in _STATUS_ROWS:
        wire = _STATUS_ROWS[error.status_code]
        allow = (error.headers or {}).get("allow")
        headers = ((b"allow", allow.encode("latin-1")),) if allow else ()
        return Described(wire, wire.meaning, headers)
    LOG.error("unexpected error", exc_info=error, extra={"code": INTERNAL_ERROR.code})
    return Described(INTERNAL_ERROR, INTERNAL_ERROR.meaning, ())


def _domain_row(error: HorusError) -> WireError | None:
    for error_type in type(error).__mro__:
        wire = _DOMAIN_ROWS.get(error_type)
        if wire is not None:
            return wire
    return None


class OAuthError(msgspec.Struct, frozen=True, omit_defaults=True):
    error: str
    error_description: str | None = None


@dataclass(frozen=True, slots=True)
class ErrorAnswer:
    status: int
    body: bytes
    headers: RawHeaders


def legacy_error(scope: Any, error: BaseException) -> ErrorAnswer:
    described = describe(error)
    wire = described.wire
    annotate(scope, code=wire.code)
    message = wire.legacy_message or described.message
    return ErrorAnswer(wire.status, _encoded(LegacyEnvelope(wire.code, message, None)), described.headers)


def oauth_error(scope: Any, error: BaseException) -> ErrorAnswer:
    described = describe(error)
    wire = described.wire
    if wire in (NOT_FOUND, METHOD_NOT_ALLOWED):  # routing errors answer in the legacy envelope on every path
        return legacy_error(scope, error)
    annotate(scope, code=wire.code)
    description = None if wire is INTERNAL_ERROR else described.message
    status = wire.oauth_status or wire.status
    return ErrorAnswer(status, _encoded(OAuthError(wire.oauth_error, description)), described.headers)


_ENCODED: dict[LegacyEnvelope | OAuthError, bytes] = {}
_MAX_ENCODED = 256


def _encoded(body: LegacyEnvelope | OAuthError) -> bytes:
    """Error bodies repeat (a refusal under attack is the same few bytes): each is encoded once."""
    encoded = _ENCODED.get(body)
    if encoded is None:
        encoded = msgspec.json.encode(body)
        if len(_ENCODED) < _MAX_ENCODED:
            _ENCODED[body] = encoded
    return encoded


NO_STORE_HEADERS = {"cache-control": "no-store", "pragma": "no-cache"}


def _litestar_response(answer: ErrorAnswer) -> Response[bytes]:
    headers = {
        **NO_STORE_HEADERS,
        **{name.decode("latin-1"): value.decode("latin-1") for name, value in answer.headers},
    }
    return Response(answer.body, status_code=answer.status, media_type=JSON, headers=headers)


def _legacy_handler(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    return _litestar_response(legacy_error(request.scope, error))


def _oauth_handler(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    return _litestar_response(oauth_error(request.scope, error))


LEGACY_EXCEPTION_HANDLERS: ExceptionHandlersMap = {Exception: _legacy_handler}
OAUTH_EXCEPTION_HANDLERS: ExceptionHandlersMap = {Exception: _oauth_handler}


def table_rows() -> Sequence[tuple[int, int, str]]:
    """(code, HTTP status, meaning) for README.md's table."""
    return [(wire.code, wire.status, wire.meaning) for wire in ERROR_TABLE]
