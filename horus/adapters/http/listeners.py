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
    received in time, or a connection over the cap, is closed without an answer (as a reverse proxy does)."""

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
        self._head_bytes: int | None = 0
        """The current request's head so far, as parsed; None once its headers are complete."""
        self._head_buffered = 0
        """Bytes received while the head was incomplete: what the parser holds before it can say more."""
        self._headers = 0
        self._head_too_large = False
        self._read_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self._limits.max_connections and (self.server or ("", 0))[1] not in (
            self._uncapped_ports
        ):
            transport.close()  # its file descriptor is free again; connection_lost follows
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._read_deadline is None:  # bytes of a new request (or between requests): it has a deadline too
            self._arm()
        head_was_incomplete = self._head_bytes is not None
        super().data_received(data)
        if head_was_incomplete and self._head_bytes is not None and not self.transport.is_closing():
            self._head_buffered += len(data)  # all of it was head: the parser buffers it until the head ends
            if self._head_buffered > self._limits.max_header_bytes:
                self._refuse_head()

    def on_message_begin(self) -> None:
        self._head_bytes, self._head_buffered, self._headers = 0, 0, 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers += 1
        self._count_head(len(name) + len(value) + 4)  # ": " and the line break
        if self._headers > self._limits.max_headers:
            self._head_too_large = True
            raise _HeadTooLarge
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_bytes = None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request the parser refused: 431 when it was refused for its size."""
        if self._head_too_large:
            self._refuse_head()
        else:
            super().send_400_response(msg)

    def _count_head(self, length: int) -> None:
        if self._head_bytes is None:
            return
        self._head_bytes += length
        if self._head_bytes > self._limits.max_header_bytes:
            self._head_too_large = True
            raise _HeadTooLarge

    def _refuse_head(self) -> None:
        if self.cycle is None or self.cycle.response_complete:  # never inside an earlier response still being sent
            self.transport.write(HEADERS_TOO_LARGE)
        self.transport.close()

    def _arm(self) -> None:
        self._read_deadline = self.loop.call_later(self._limits.request_timeout, self._read_timed_out)

    def _disarm(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _read_timed_out(self) -> None:
        self._read_deadline = None
        if not self.transport.is_closing():
            self.transport.close()
