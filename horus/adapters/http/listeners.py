"""The HTTP server's side of a connection: the limits uvicorn leaves open, and which listener a request came in on.

uvicorn (with httptools) caps neither the size nor the number of request headers, nor how long
a client may take to send them: a 200 MB header was buffered whole, and a connection that sends
nothing, or one byte at a time, stayed open for good. uvicorn's own options cover the rest
(timeout_keep_alive between requests, backlog); this protocol adds the missing limits and
otherwise leaves every byte to uvicorn's httptools protocol, which it extends through the
`http` option of uvicorn's Config.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

HEADERS_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\ncontent-length: 32\r\nconnection: close\r\n\r\n"
    b"Request header fields too large."
)


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """What one connection may cost the HTTP server (the HORUS_HTTP_* settings)."""

    max_header_bytes: int = 16384
    """The request target and header lines of one request, in bytes."""
    max_headers: int = 100
    request_timeout: float = 10.0
    """Seconds from a request's first byte (from the connection's opening, for its first request) to its last."""
    keep_alive_timeout: int = 5
    """Seconds an idle connection stays open between two requests (uvicorn's timeout_keep_alive)."""
    max_connections: int = 1000
    """Open connections per worker process; a further one is closed at once (operator listener excepted)."""


class _HeadTooLarge(Exception):
    """Raised in a parser callback: it stops the parser, and uvicorn answers through send_400_response."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a cap on header bytes and count, on the time to send a whole request,
    and on open connections. A head over the limits is answered 431 and the connection closed; a request not
    received in time, or a connection over the cap, is closed without an answer (as a reverse proxy does).

    The work per request is a few attribute updates: sizes are counted per chunk of bytes received, not per
    header, and the request's deadline is a time stamp that one timer per connection checks now and then.
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: HttpLimits,
        uncapped_ports: frozenset[int] = frozenset(),
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._limits = limits
        self._uncapped_ports = uncapped_ports
        """Listeners whose connections the cap never closes (the operator's, so that it stays reachable)."""
        self._in_head = True
        self._head_received = 0
        """Bytes of the chunks received while the current head was incomplete: head bytes while it still is."""
        self._chunk = 0
        self._head_began_in = 0
        """The length of the chunk in which the current head began after an earlier request, not counted above."""
        self._head_too_large = False
        self._request_started: float | None = None
        """When the request being received began (None between requests, and while the app answers one)."""
        self._deadline_check: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self._limits.max_connections and (self.server or ("", 0))[1] not in (
            self._uncapped_ports
        ):
            transport.close()  # its file descriptor is free again; connection_lost follows
            return
        self._request_started = self.loop.time()  # the first request's time runs from the connection
        self._check_deadline_in(self._limits.request_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline_check is not None:
            self._deadline_check.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._request_started is None:  # bytes of a new request (or between requests): its time starts
            self._request_started = self.loop.time()
        self._chunk = len(data)
        if self._in_head:
            self._head_received += self._chunk
        super().data_received(data)
        if self._in_head and self._head_received > self._limits.max_header_bytes and not self.transport.is_closing():
            self._refuse_head()  # the parser would buffer all of it, 200 MB as well, before saying anything

    def on_headers_complete(self) -> None:
        self._in_head = False
        at_most = self._head_received + self._head_began_in  # the last chunk may hold some body too
        if len(self.headers) > self._limits.max_headers or (
            at_most > self._limits.max_header_bytes and self._head_size() > self._limits.max_header_bytes
        ):
            self._head_too_large = True
            raise _HeadTooLarge
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._request_started = None
        self._in_head, self._head_received, self._head_began_in = True, 0, self._chunk
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request the parser refused: 431 when it was refused for its size."""
        if self._head_too_large:
            self._refuse_head()
        else:
            super().send_400_response(msg)

    def _head_size(self) -> int:
        """The request target and header lines as parsed (": " and line breaks included)."""
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)

    def _refuse_head(self) -> None:
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(HEADERS_TOO_LARGE)
            self.transport.close()
        else:  # a pipelined request's head: the earlier request's answer goes out, then the connection closes
            self.cycle.keep_alive = False  # as uvicorn's own shutdown() does
            self.transport.pause_reading()

    def _check_deadline_in(self, seconds: float) -> None:
        self._deadline_check = self.loop.call_later(seconds, self._check_deadline)

    def _check_deadline(self) -> None:
        if self.transport.is_closing():
            return
        if self._request_started is None:
            self._check_deadline_in(self._limits.request_timeout)
            return
        remaining = self._request_started + self._limits.request_timeout - self.loop.time()
        if remaining > 0:
            self._check_deadline_in(remaining)
        else:
            self.transport.close()
