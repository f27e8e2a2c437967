"""One request and its response at the ASGI level, for the two token endpoints.

Litestar's request and response objects (signature model, header containers, response
building) cost about 20 us per request, as much again as an ES256 signature; the token
endpoints read three headers and a small body and answer JSON with a fixed set of headers,
so they are Litestar ASGI route handlers that do just that, and answer their own errors
from the error table.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from horus.adapters.http.error_table import (
    BODY_TOO_LARGE,
    MALFORMED_HTTP,
    METHOD_NOT_ALLOWED,
    RequestRejected,
    legacy_error,
)
from horus.adapters.http.request_headers import RequestHeaders

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON_NO_STORE = [
    (b"content-type", b"application/json"),
    (b"cache-control", b"no-store"),
    (b"pragma", b"no-cache"),
]


async def read_body(headers: RequestHeaders, receive: Receive, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it is known to exceed `limit` bytes."""
    declared = headers.get(b"content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise RequestRejected(BODY_TOO_LARGE)
        except ValueError:
            raise RequestRejected(MALFORMED_HTTP, "invalid content-length") from None
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):  # the usual case: one message
        body: bytes = message.get("body", b"")
        if len(body) > limit:
            raise RequestRejected(BODY_TOO_LARGE)
        return body
    chunks: list[bytes] = []
    size = 0
    while True:
        if message["type"] == "http.disconnect":
            raise RequestRejected(MALFORMED_HTTP, "the client disconnected before sending the whole body")
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise RequestRejected(BODY_TOO_LARGE)
            chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
        message = await receive()


async def send_json(send: Send, body: bytes, status: int = 200, extra: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    """A complete no-store JSON response (token responses must not be cached: RFC 6749 5.1)."""
    headers = [*_JSON_NO_STORE, *extra, (b"content-length", str(len(body)).encode("ascii"))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


_ALLOW_POST = (b"allow", b"OPTIONS, POST")


async def answer_other_method(scope: Scope, send: Send) -> bool:
    """The token endpoints take POST: OPTIONS lists the methods, as Litestar answers on its other routes, and
    any other method is 405 from the error table. True when the request has been answered here."""
    method = scope["method"]
    if method == "POST":
        return False
    if method == "OPTIONS":
        await send({"type": "http.response.start", "status": 204, "headers": [_ALLOW_POST]})
        await send({"type": "http.response.body", "body": b""})
        return True
    answer = legacy_error(scope, RequestRejected(METHOD_NOT_ALLOWED, headers=(_ALLOW_POST,)))
    await send_json(send, answer.body, answer.status, answer.headers)
    return True
