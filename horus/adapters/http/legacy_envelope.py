"""The legacy Horus envelope {code, message, content}: wire structs and error responses."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec
from litestar import Response

from horus.adapters.http.asgi_exchange import Scope, Send, send_json
from horus.adapters.http.request_context import annotate
from horus.domain.errors import ErrorCode

JSON = "application/json"


class LegacyTokenContent(msgspec.Struct):
    expiresIn: str
    accessToken: str
    tokenType: str


class LegacyEnvelope(msgspec.Struct):
    code: int
    message: str
    content: LegacyTokenContent | None


METHOD_NOT_ALLOWED_MESSAGE = "method not allowed on this endpoint"
NO_STORE_HEADERS = {"cache-control": "no-store", "pragma": "no-cache"}


def envelope_response(
    code: ErrorCode,
    message: str,
    content: LegacyTokenContent | None = None,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    return Response(
        msgspec.json.encode(LegacyEnvelope(int(code), message, content)),
        status_code=code.http_status,
        media_type=JSON,
        headers={**NO_STORE_HEADERS, **(headers or {})},
    )


async def answer_other_method(scope: Scope, send: Send, allowed: Iterable[str]) -> None:
    """For an ASGI route handler, what Litestar does for its own routes: OPTIONS lists the methods, and any
    other method is a routing error, answered in the legacy envelope on every path (openapi/horus.yaml)."""
    allow = ", ".join(sorted({"OPTIONS", *allowed}))
    if scope["method"] == "OPTIONS":
        await send({"type": "http.response.start", "status": 204, "headers": [(b"allow", allow.encode("ascii"))]})
        await send({"type": "http.response.body", "body": b""})
        return
    code = ErrorCode.METHOD_NOT_ALLOWED
    annotate(scope, code=int(code))
    body = msgspec.json.encode(LegacyEnvelope(int(code), METHOD_NOT_ALLOWED_MESSAGE, None))
    await send_json(send, body, code.http_status, ((b"allow", allow.encode("ascii")),))
