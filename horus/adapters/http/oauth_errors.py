"""Errors of the standard endpoints as RFC 6749 section 5.2 writes them: {"error", "error_description"}."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.types import ExceptionHandlersMap

from horus.adapters.http.json_body import UnsupportedMediaType
from horus.adapters.http.legacy_envelope import JSON, NO_STORE_HEADERS
from horus.adapters.http.request_context import annotate, request_facts
from horus.domain.errors import (
    ErrorCode,
    HorusError,
    InvalidClient,
    InvalidRequest,
    InvalidScope,
    StorageUnavailable,
    TokenNotOwned,
    TooManyAttempts,
    UnsupportedGrantType,
)

LOG = logging.getLogger("horus.http")
AUTHORIZATION_ATTEMPTED = "authorization_header"


class OAuthError(msgspec.Struct, omit_defaults=True):
    error: str
    error_description: str | None = None


def oauth_error(
    request: Request[Any, Any, Any],
    status: int,
    error: str,
    description: str | None,
    code: ErrorCode,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    annotate(request.scope, code=int(code))
    headers = {**NO_STORE_HEADERS, **(headers or {})}
    if status == 401 and request_facts(request.scope).get(AUTHORIZATION_ATTEMPTED):
        headers["www-authenticate"] = 'Basic realm="horus", charset="UTF-8"'
    return Response(
        msgspec.json.encode(OAuthError(error, description)), status_code=status, media_type=JSON, headers=headers
    )


# Most specific first: the first isinstance match decides.
_DOMAIN_ERRORS: tuple[tuple[type[HorusError], int, str], ...] = (
    (UnsupportedGrantType, 400, "unsupported_grant_type"),
    (InvalidRequest, 400, "invalid_request"),
    (InvalidScope, 400, "invalid_scope"),
    (TokenNotOwned, 400, "unauthorized_client"),
    (InvalidClient, 401, "invalid_client"),
    (StorageUnavailable, 503, "temporarily_unavailable"),
)


def horus_error(request: Request[Any, Any, Any], error: HorusError) -> Response[bytes]:
    if isinstance(error, TooManyAttempts):
        return oauth_error(
            request,
            429,
            "temporarily_unavailable",
            error.message,
            error.code,
            {"retry-after": str(error.retry_after_seconds)},
        )
    for error_type, status, name in _DOMAIN_ERRORS:
        if isinstance(error, error_type):
            if status >= 500:
                LOG.warning("request failed: %s", error.message, extra={"code": int(error.code)})
            return oauth_error(request, status, name, error.message, error.code)
    return unexpected(request, error)


def unsupported_media_type(request: Request[Any, Any, Any], error: UnsupportedMediaType) -> Response[bytes]:
    return oauth_error(request, 400, "invalid_request", str(error), ErrorCode.UNSUPPORTED_MEDIA_TYPE)


def http_exception(request: Request[Any, Any, Any], error: HTTPException) -> Response[bytes]:
    if error.status_code == 413:
        return oauth_error(
            request, 413, "invalid_request", "the request body is too large (16 KiB at most)", ErrorCode.BODY_TOO_LARGE
        )
    if error.status_code == 400:
        return oauth_error(request, 400, "invalid_request", "the request is malformed", ErrorCode.BAD_REQUEST)
    return unexpected(request, error)


def unexpected(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    LOG.error("unexpected error", exc_info=error, extra={"code": int(ErrorCode.INTERNAL_ERROR)})
    return oauth_error(request, 500, "server_error", None, ErrorCode.INTERNAL_ERROR)


OAUTH_EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    HorusError: horus_error,
    UnsupportedMediaType: unsupported_media_type,
    HTTPException: http_exception,
    Exception: unexpected,
}
