"""Endpoints for operators and orchestrators: /health (the process is up), /ready (it can serve), /metrics."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get

from horus.adapters.http.json_body import JSON
from horus.adapters.http.services import services_of
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
    # "signingKey" is ok by construction: the lifespan loads the key ring before any request is served.
    is_ready = all(value == "ok" for value in checks.values())
    body = msgspec.json.encode({"status": "ready" if is_ready else "not ready", **checks})
    return Response(body, status_code=200 if is_ready else 503, media_type=JSON, headers=NO_CACHE)


@get("/metrics")
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    # The content type is given as a header: as media_type, Litestar would append a second charset.
    return Response(services_of(request).metrics.exposition(), headers={**NO_CACHE, "content-type": CONTENT_TYPE})
