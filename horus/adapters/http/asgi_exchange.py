"""One request and its response at the ASGI level, for the token endpoints' hot path.

Litestar's request and response objects (signature model, header containers, response
building) cost about 20 us per request, as much again as an ES256 signature; the token
endpoints read three headers and a small body and answer with a fixed set of headers, so
they are Litestar ASGI route handlers that do just that. Errors are raised as usual and
answered by the app's exception handlers through Litestar's full machinery.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from litestar.exceptions import ClientException, HTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON_NO_STORE = [
    (b"content-type", b"application/json"),
    (b"cache-control", b"no-store"),
    (b"pragma", b"no-cache"),
]


class BodyTooLarge(HTTPException):
    status_code = 413


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of a header, as Litestar's Headers.get would; `name` in lower case.

    ASGI servers give names in lower case, but a wrapping middleware might not."""
    headers = scope["headers"]
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it is known to exceed `limit` bytes."""
    declared = header(scope, b"content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise BodyTooLarge()
        except ValueError:
            raise ClientException("invalid content-length") from None
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):  # the usual case: one message
        body: bytes = message.get("body", b"")
        if len(body) > limit:
            raise BodyTooLarge()
        return body
    chunks: list[bytes] = []
    size = 0
    while True:
        if message["type"] == "http.disconnect":
            raise ClientException("the client disconnected before sending the whole body")
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge()
            chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
        message = await receive()


async def send_json(send: Send, body: bytes, status: int = 200, extra: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    """A complete no-store JSON response (token responses must not be cached: RFC 6749 5.1)."""
    headers = [*_JSON_NO_STORE, *extra, (b"content-length", str(len(body)).encode("ascii"))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
