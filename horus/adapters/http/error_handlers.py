"""The one place that maps errors to HTTP responses in the legacy envelope, registered once on the app."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.types import ExceptionHandlersMap

from horus.adapters.http.json_body import UnsupportedMediaType
from horus.adapters.http.legacy_envelope import METHOD_NOT_ALLOWED_MESSAGE, envelope_response
from horus.adapters.http.request_context import annotate
from horus.domain.errors import ErrorCode, HorusError, TooManyAttempts

LOG = logging.getLogger("horus.http")

# Framework-raised statuses (routing, body limits, malformed HTTP) onto the code table.
_STATUS_CODES = {
    400: ErrorCode.BAD_REQUEST,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.BODY_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
}
_STATUS_MESSAGES = {
    ErrorCode.BAD_REQUEST: "the request is malformed",
    ErrorCode.NOT_FOUND: "no such endpoint",
    ErrorCode.METHOD_NOT_ALLOWED: METHOD_NOT_ALLOWED_MESSAGE,
    ErrorCode.BODY_TOO_LARGE: "the request body is too large (16 KiB at most)",
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: "unsupported content type",
}


def _respond(
    request: Request[Any, Any, Any], code: ErrorCode, message: str, headers: dict[str, str] | None = None
) -> Response[bytes]:
    annotate(request.scope, code=int(code))
    return envelope_response(code, message, headers=headers)


def horus_error(request: Request[Any, Any, Any], error: HorusError) -> Response[bytes]:
    if error.code.http_status >= 500:
        LOG.warning("request failed: %s", error.message, extra={"code": int(error.code)})
    if isinstance(error, TooManyAttempts):
        return _respond(request, error.code, error.message, {"retry-after": str(error.retry_after_seconds)})
    return _respond(request, error.code, error.message)


def unsupported_media_type(request: Request[Any, Any, Any], error: UnsupportedMediaType) -> Response[bytes]:
    return _respond(request, ErrorCode.UNSUPPORTED_MEDIA_TYPE, str(error))


def http_exception(request: Request[Any, Any, Any], error: HTTPException) -> Response[bytes]:
    code = _STATUS_CODES.get(error.status_code)
    if code is None:
        return unexpected(request, error)
    headers = {"allow": error.headers["allow"]} if error.headers and "allow" in error.headers else None
    return _respond(request, code, _STATUS_MESSAGES[code], headers)


def unexpected(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    LOG.error("unexpected error", exc_info=error, extra={"code": int(ErrorCode.INTERNAL_ERROR)})
    return _respond(request, ErrorCode.INTERNAL_ERROR, "internal error")


LEGACY_EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    HorusError: horus_error,
    UnsupportedMediaType: unsupported_media_type,
    HTTPException: http_exception,
    Exception: unexpected,
}
