"""GET /.well-known/jwks.json: the public keys that verify Horus tokens (RFC 7517)."""

from __future__ import annotations

import msgspec
from litestar import Response, get
from litestar.di import NamedDependency, Provide

from horus.adapters.http.services import HttpServices, provide_services

JWKS_PATH = "/.well-known/jwks.json"


@get(JWKS_PATH, dependencies={"services": Provide(provide_services, sync_to_thread=False)})
async def publish_jwks(services: NamedDependency[HttpServices]) -> Response[bytes]:
    return Response(
        msgspec.json.encode(services.public_keys.jwks()),
        media_type="application/json",
        headers={"cache-control": "public, max-age=300"},
    )
