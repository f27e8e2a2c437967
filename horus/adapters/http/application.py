"""Builds the ASGI application: the Litestar routes, wrapped in the per-request context middleware.

The middleware wraps the whole Litestar app rather than sitting in its middleware list,
because Litestar's own middleware does not run for 404 and 405 answers, and every
response must carry x-horus-request-id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager

from litestar import Litestar

from horus.adapters.http.discovery import publish_jwks, publish_metadata
from horus.adapters.http.error_table import LEGACY_EXCEPTION_HANDLERS
from horus.adapters.http.legacy_token import issue_legacy_token
from horus.adapters.http.oauth_endpoints import oauth_router
from horus.adapters.http.operations import health, operator_router, ready
from horus.adapters.http.request_context import RequestContextMiddleware
from horus.adapters.observability.metrics import Metrics, MetricsSnapshot

Lifespan = Callable[[Litestar], AbstractAsyncContextManager[None]]


class HorusAsgiApp(RequestContextMiddleware):
    """The ASGI callable to serve: the Litestar application (`.litestar`) inside the request-context middleware."""

    def __init__(self, litestar: Litestar, metrics: Metrics) -> None:
        super().__init__(litestar, metrics)
        self.litestar = litestar


def build_http_app(
    lifespan: Sequence[Lifespan],
    metrics_client_labels: bool = False,
    metrics_peers: Callable[[], Iterable[MetricsSnapshot]] = tuple,
) -> HorusAsgiApp:
    litestar = Litestar(
        route_handlers=[
            issue_legacy_token,
            publish_jwks,
            publish_metadata,
            oauth_router,
            health,
            ready,
            operator_router,
        ],
        exception_handlers=LEGACY_EXCEPTION_HANDLERS,
        lifespan=list(lifespan),
        openapi_config=None,
        logging_config=None,
        debug=False,
    )
    metrics = Metrics(frozenset(route.path for route in litestar.routes), metrics_client_labels, metrics_peers)
    return HorusAsgiApp(litestar, metrics)
