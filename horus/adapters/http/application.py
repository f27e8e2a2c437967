"""Builds the ASGI application: the Litestar routes, wrapped in the per-request context middleware.

The middleware wraps the whole Litestar app rather than sitting in its middleware list,
because Litestar's own middleware does not run for 404 and 405 answers, and every
response must carry x-horus-request-id.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager

from litestar import Litestar

from horus.adapters.http.asgi_exchange import Receive, Scope, Send
from horus.adapters.http.direct_routes import DirectRoute, direct_routes
from horus.adapters.http.discovery import publish_jwks, publish_metadata
from horus.adapters.http.error_handlers import LEGACY_EXCEPTION_HANDLERS
from horus.adapters.http.legacy_token import LEGACY_TOKEN_PATH, issue_legacy_token
from horus.adapters.http.oauth_endpoints import OAUTH_PREFIX, TOKEN_PATH, issue_token, oauth_router
from horus.adapters.http.oauth_errors import OAUTH_EXCEPTION_HANDLERS
from horus.adapters.http.operations import health, metrics, ready
from horus.adapters.http.request_context import RequestContextMiddleware, request_facts
from horus.adapters.observability.metrics import Metrics

Lifespan = Callable[[Litestar], AbstractAsyncContextManager[None]]


class HorusAsgiApp(RequestContextMiddleware):
    """The ASGI callable to serve; `.litestar` is the routed application inside."""

    def __init__(self, litestar: Litestar, metrics: Metrics, direct: dict[str, DirectRoute]) -> None:
        super().__init__(litestar, metrics)
        self.litestar = litestar
        self.request_metrics = metrics
        self._direct = direct

    async def dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._direct.get(scope["path"]) if scope["method"] == "POST" else None
        if route is None:
            await self.litestar(scope, receive, send)  # type: ignore[arg-type]
            return
        scope["app"] = scope["litestar_app"] = self.litestar  # what Litestar.__call__ would set
        try:
            await route.handler(scope, receive, send)
        except Exception as error:
            if "status" in request_facts(scope):  # the response has started: nothing else can be sent
                raise
            await route.answer_error(self.litestar, scope, receive, send, error)


def build_http_app(lifespan: Sequence[Lifespan]) -> HorusAsgiApp:
    litestar = Litestar(
        route_handlers=[
            issue_legacy_token,
            publish_jwks,
            publish_metadata,
            oauth_router,
            health,
            ready,
            metrics,
        ],
        exception_handlers=LEGACY_EXCEPTION_HANDLERS,
        lifespan=list(lifespan),
        openapi_config=None,
        logging_config=None,
        debug=False,
    )
    known_paths = frozenset(route.path for route in litestar.routes)
    direct = direct_routes(
        litestar,
        {
            LEGACY_TOKEN_PATH: DirectRoute(issue_legacy_token.fn, LEGACY_EXCEPTION_HANDLERS),
            OAUTH_PREFIX + TOKEN_PATH: DirectRoute(issue_token.fn, OAUTH_EXCEPTION_HANDLERS),
        },
    )
    return HorusAsgiApp(litestar, Metrics(known_paths), direct)
