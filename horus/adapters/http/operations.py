"""Endpoints for operators and orchestrators: /health (the process is up), /ready (it can serve), /metrics.

/health and /ready answer on both listeners (load balancers probe the public one); the routes of
`operator_router` (/metrics, and later the admin API) only on the operator listener
(HORUS_OPS_HOST:HORUS_OPS_PORT): anywhere else they do not exist (404).
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, Router, get
from litestar.connection import ASGIConnection
from litestar.exceptions import NotFoundException
from litestar.handlers import BaseRouteHandler

from horus.adapters.http.json_body import JSON
from horus.adapters.http.services import SERVICES_STATE_KEY, HttpServices, services_of
from horus.adapters.observability.metrics import CONTENT_TYPE
from horus.domain.errors import StorageUnavailable

NO_CACHE = {"cache-control": "no-store"}


@get("/health")
async def health() -> Response[bytes]:
    return Response(b'{"status":"ok"}', media_type=JSON, headers=NO_CACHE)


@get("/ready")
async def ready(request: Request[Any, Any, Any]) -> Response[bytes]:
    services = services_of(request)
    checks = {"storage": "ok", "signingKey": "ok"}
    try:
        await services.storage_ping()
    except StorageUnavailable:
        checks["storage"] = "unreachable"
    except Exception:  # any failure of the probe means "not ready", never a 500
        checks["storage"] = "error"
    if not services.signing_keys_current():
        checks["signingKey"] = "stale"  # the key refresh keeps failing: rotations and revocations go unseen
    is_ready = all(value == "ok" for value in checks.values())
    body = msgspec.json.encode({"status": "ready" if is_ready else "not ready", **checks})
    return Response(body, status_code=200 if is_ready else 503, media_type=JSON, headers=NO_CACHE)


def on_operator_listener(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The guard of the operator routes: uvicorn puts the listening socket's address in scope["server"]."""
    server = connection.scope.get("server")
    services: HttpServices = connection.app.state[SERVICES_STATE_KEY]
    if server is None or server[1] != services.operator_port:
        raise NotFoundException()


@get("/metrics")
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    # The content type is given as a header: as media_type, Litestar would append a second charset.
    return Response(services_of(request).metrics.exposition(), headers={**NO_CACHE, "content-type": CONTENT_TYPE})


OPERATOR_LISTENER = {"listener": "operator"}
"""The opt of every operator route, so that tools (the contract test) can tell them apart."""

operator_router = Router("/", route_handlers=[metrics], guards=[on_operator_listener], opt=OPERATOR_LISTENER)
