"""Per-request context as raw ASGI middleware: the x-horus-request-id header and the access log line.

Raw ASGI rather than a Litestar middleware class because it runs on every request,
404s and framework errors included, and must stay cheap.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from horus.adapters.http.request_headers import HEADERS_KEY, RequestHeaders
from horus.adapters.observability.logs import ACCESS_LOGGER, request_id_var, write_access_line
from horus.adapters.observability.metrics import Metrics
from horus.adapters.system import new_request_id

REQUEST_ID_HEADER = b"x-horus-request-id"
_VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,128}")
ACCESS_LOG = logging.getLogger(ACCESS_LOGGER)
# Plain ASGI types: Litestar's TypedDicts add nothing to a middleware that only reads a few keys.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]
CONTEXT_KEY = "horus"


def incoming_request_id(headers: RequestHeaders) -> str:
    value = headers.raw(REQUEST_ID_HEADER)
    return value.decode("ascii") if value is not None and _VALID_REQUEST_ID.fullmatch(value) else new_request_id()


def annotate(scope: Any, **facts: Any) -> None:
    """Lets a handler add facts (client_id, code) to this request's access log line."""
    context = scope.get(CONTEXT_KEY)
    if context is not None:
        context.update(facts)


def request_facts(scope: Any) -> dict[str, Any]:
    facts: dict[str, Any] = scope.get(CONTEXT_KEY) or {}
    return facts


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = RequestHeaders(scope["headers"])
        request_id = incoming_request_id(headers)
        facts: dict[str, Any] = {"request_id": request_id}
        method = scope["method"]
        # The app gets a scope of its own: the server's is never changed (uvicorn decides by its method that a
        # HEAD response has no body). HEAD is GET without the body (RFC 9110 9.3.2), and Litestar routes GET
        # handlers only for GET, so the app's copy says GET.
        is_head = method == "HEAD"
        scope = {**scope, HEADERS_KEY: headers, CONTEXT_KEY: facts}
        if is_head:
            scope["method"] = "GET"
        token = request_id_var.set(request_id)
        request_id_header = (REQUEST_ID_HEADER, request_id.encode("ascii"))

        async def send_with_request_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                facts["status"] = message["status"]  # also tells the app that the response has started
                # Appended, not replaced: nothing inside Horus sets this header (a test holds every response to one).
                message = {**message, "headers": [*message.get("headers", ()), request_id_header]}
            elif is_head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            elapsed = time.perf_counter() - started
            status = facts.get("status", 500)
            self.metrics.observe(scope["path"], method, status, facts.get("code"), facts.get("client_id"), elapsed)
            if ACCESS_LOG.isEnabledFor(logging.INFO):
                write_access_line(
                    request_id,
                    method,
                    scope["path"],
                    status,
                    facts.get("code"),
                    facts.get("client_id"),
                    round(elapsed * 1_000_000) / 1000,  # milliseconds to the microsecond
                )
            request_id_var.reset(token)
