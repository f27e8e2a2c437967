"""POSTs to the token endpoints go from the request-context middleware straight to their handler.

Litestar's router, exception middleware and send wrapper cost more per request than the
handler's own work besides signing. The handlers are the same ASGI route handlers Litestar
serves for every other method (OPTIONS, 405); an error is answered by the same exception
handlers Litestar would pick. Their responses (bytes, JSON, a few headers) are sent as
Litestar would send them, without its ASGIResponse: a refusal under attack (429, 401) would
otherwise cost twice a token with its signature (measured in process).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from litestar import Litestar, Request, Response
from litestar.types import ExceptionHandlersMap

from horus.adapters.http.asgi_exchange import Receive, Scope, Send

AsgiHandler = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class DirectRoute:
    handler: AsgiHandler
    exception_handlers: ExceptionHandlersMap

    async def answer_error(self, app: Litestar, scope: Scope, receive: Receive, send: Send, error: Exception) -> None:
        """As Litestar's exception middleware: the handler registered for the closest class in the error's MRO."""
        for error_type in type(error).__mro__:
            handler = self.exception_handlers.get(error_type)
            if handler is not None:
                break
        else:
            raise error
        request: Request[Any, Any, Any] = Request(scope, receive)  # type: ignore[arg-type]
        response = handler(request, error)
        if not await send_plain_response(response, send):
            await response.to_asgi_response(None, request)(scope, receive, send)  # type: ignore[arg-type]


async def send_plain_response(response: Response[Any], send: Send) -> bool:
    """Sends a response of bytes with a plain media type and headers, as Litestar's ASGIResponse would
    (header names in lower case, then content-type and content-length unless given); False for any other."""
    body, media_type, status = response.content, response.media_type, response.status_code
    if (
        type(body) is not bytes
        or type(media_type) is not str
        or media_type.startswith("text/")  # Litestar would add a charset
        or response.cookies
        or response.background is not None
        or status is None
        or status < 200
        or status in (204, 304)
    ):
        return False
    given_headers = response.headers.items()
    headers = [(name.lower().encode("latin-1"), str(value).encode("latin-1")) for name, value in given_headers]
    given = {name for name, _ in headers}
    if b"content-type" not in given:
        headers.append((b"content-type", media_type.encode("latin-1")))
    if b"content-length" not in given:
        headers.append((b"content-length", str(len(body)).encode("ascii")))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    return True


def direct_routes(app: Litestar, routes: dict[str, DirectRoute]) -> dict[str, DirectRoute]:
    """Checks that each path is served by Litestar too (other methods, route listing) with that handler."""
    served = {route.path: route for route in app.routes}
    for path, direct in routes.items():
        handler = getattr(served.get(path), "route_handler", None)
        if handler is None or handler.fn is not direct.handler:
            raise ValueError(f"{path} must be a Litestar ASGI route of the same handler")
    return routes
