"""The request headers as the handlers read them: the first value of each name, looked up in one dict."""

from __future__ import annotations

from typing import Any


class RequestHeaders:
    """The first value of each request header, by its name in lower case (as ASGI servers give names).

    Built once per request by the request-context middleware: one dict made in C serves every look-up."""

    __slots__ = ("_first",)

    def __init__(self, headers: list[tuple[bytes, bytes]]) -> None:
        self._first: dict[bytes, bytes] = dict(reversed(headers))

    def raw(self, name: bytes) -> bytes | None:
        return self._first.get(name)

    def get(self, name: bytes) -> str | None:
        value = self._first.get(name)
        return None if value is None else value.decode("latin-1")


HEADERS_KEY = "horus.headers"


def request_headers(scope: Any) -> RequestHeaders:
    """The middleware's RequestHeaders for this request (made here when a test calls a handler directly)."""
    headers: RequestHeaders | None = scope.get(HEADERS_KEY)
    return RequestHeaders(scope["headers"]) if headers is None else headers
