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


class RequestHeaders:
    """The first value of each request header, as Litestar's Headers.get gives it; names in lower case.

    Built once per request by the request-context middleware: one dict made in C serves every
    look-up. ASGI servers give names in lower case; for a wrapping middleware that does not,
    get() looks for a name it did not find again, without case."""

    __slots__ = ("_first", "_headers")

    def __init__(self, headers: list[tuple[bytes, bytes]]) -> None:
        self._headers = headers
        self._first: dict[bytes, bytes] = dict(reversed(headers))

    def raw(self, name: bytes) -> bytes | None:
        """The value under exactly this name."""
        return self._first.get(name)

    def get(self, name: bytes) -> str | None:
        value = self._first.get(name)
        if value is None:
            value = next((value for key, value in self._headers if key.lower() == name), None)
            if value is None:
                return None
        return value.decode("latin-1")


HEADERS_KEY = "horus.headers"


def request_headers(scope: Scope) -> RequestHeaders:
    """The middleware's RequestHeaders for this request (made here when a test calls a handler directly)."""
    headers: RequestHeaders | None = scope.get(HEADERS_KEY)
    return RequestHeaders(scope["headers"]) if headers is None else headers


async def read_body(headers: RequestHeaders, receive: Receive, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it is known to exceed `limit` bytes."""
    declared = headers.get(b"content-length")
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
