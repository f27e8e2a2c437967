"""POSTs to the token endpoints go from the request-context middleware straight to their handler.

Litestar's router, exception middleware and send wrapper cost more per request than the
handler's own work besides signing. The handlers are the same ASGI route handlers Litestar
serves for every other method (OPTIONS, 405); an error is answered by the same exception
handlers Litestar would pick, through Litestar's own Request and Response.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from litestar import Litestar, Request
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
        await response.to_asgi_response(None, request)(scope, receive, send)  # type: ignore[arg-type]


def direct_routes(app: Litestar, routes: dict[str, DirectRoute]) -> dict[str, DirectRoute]:
    """Checks that each path is served by Litestar too (other methods, route listing) with that handler."""
    served = {route.path: route for route in app.routes}
    for path, direct in routes.items():
        handler = getattr(served.get(path), "route_handler", None)
        if handler is None or handler.fn is not direct.handler:
            raise ValueError(f"{path} must be a Litestar ASGI route of the same handler")
    return routes
