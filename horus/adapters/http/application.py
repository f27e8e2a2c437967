"""Builds the ASGI application: the two token endpoints and the Litestar routes, in the per-request context.

The request-context middleware wraps everything rather than sitting in Litestar's middleware
list, because Litestar's own middleware does not run for 404 and 405 answers, and every
response must carry x-horus-request-id.

The two token endpoints are plain ASGI endpoints of Horus's own, found by their path ahead of
Litestar: Litestar's router costs about 42k instructions a request (measured with callgrind, a
trivial ASGI route handler against a direct call), 8% of a whole token request. They use nothing
of Litestar's but its public app.state; every other path is a plain Litestar route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager

from litestar import Litestar

from horus.adapters.http.asgi_exchange import Receive, Scope, Send
from horus.adapters.http.discovery import publish_jwks, publish_metadata
from horus.adapters.http.error_table import LEGACY_EXCEPTION_HANDLERS
from horus.adapters.http.legacy_token import LEGACY_TOKEN_PATH, issue_legacy_token
from horus.adapters.http.oauth_endpoints import TOKEN_PATH, issue_token, oauth_router
from horus.adapters.http.operations import health, operator_router, ready
from horus.adapters.http.request_context import RequestContextMiddleware
from horus.adapters.http.services import SERVICES_STATE_KEY, HttpServices
from horus.adapters.observability.metrics import Metrics, MetricsSnapshot

Lifespan = Callable[[Litestar], AbstractAsyncContextManager[None]]
TokenEndpoint = Callable[[HttpServices, Scope, Receive, Send], Awaitable[None]]
TOKEN_ENDPOINTS: Mapping[str, TokenEndpoint] = {LEGACY_TOKEN_PATH: issue_legacy_token, TOKEN_PATH: issue_token}


class TokenEndpointsFirst:
    """Requests to a token endpoint's path go to it (every method: it answers OPTIONS and 405 itself); every other
    request, and the lifespan, go to Litestar."""

    def __init__(self, litestar: Litestar, endpoints: Mapping[str, TokenEndpoint]) -> None:
        self.litestar = litestar
        self.endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.endpoints.get(scope["path"]) if scope["type"] == "http" else None
        if endpoint is None:
            await self.litestar(scope, receive, send)  # type: ignore[arg-type]
            return
        await endpoint(self.litestar.state[SERVICES_STATE_KEY], scope, receive, send)


class HorusAsgiApp(RequestContextMiddleware):
    """The ASGI callable to serve: the token endpoints and the Litestar application (`.litestar`) inside the
    request-context middleware."""

    def __init__(self, litestar: Litestar, metrics: Metrics, endpoints: Mapping[str, TokenEndpoint]) -> None:
        super().__init__(TokenEndpointsFirst(litestar, endpoints), metrics)
        self.litestar = litestar
        self.token_paths = frozenset(endpoints)


def build_http_app(
    lifespan: Sequence[Lifespan],
    metrics_client_labels: bool = False,
    metrics_peers: Callable[[], Iterable[MetricsSnapshot]] = tuple,
) -> HorusAsgiApp:
    litestar = Litestar(
        route_handlers=[publish_jwks, publish_metadata, oauth_router, health, ready, operator_router],
        exception_handlers=LEGACY_EXCEPTION_HANDLERS,
        lifespan=list(lifespan),
        openapi_config=None,
        logging_config=None,
        debug=False,
    )
    known_paths = frozenset([*(route.path for route in litestar.routes), *TOKEN_ENDPOINTS])
    metrics = Metrics(known_paths, metrics_client_labels, metrics_peers)
    return HorusAsgiApp(litestar, metrics, TOKEN_ENDPOINTS)
