"""Public discovery documents: the JWKS (RFC 7517) and the authorization server metadata (RFC 8414)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get

from horus.adapters.http.json_body import JSON
from horus.adapters.http.services import services_of

JWKS_PATH = "/.well-known/jwks.json"
METADATA_PATH = "/.well-known/oauth-authorization-server"
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


@get(JWKS_PATH)
async def publish_jwks(request: Request[Any, Any, Any]) -> Response[bytes]:
    services = services_of(request)
    return Response(
        msgspec.json.encode(services.public_keys.jwks()),
        media_type=JSON,
        headers={"cache-control": "public, max-age=300"},
    )


@get(METADATA_PATH)
async def publish_metadata(request: Request[Any, Any, Any]) -> Response[bytes]:
    services = services_of(request)
    issuer = services.issuer.rstrip("/")
    metadata = {
        "issuer": services.issuer,
        "token_endpoint": f"{issuer}/v1/oauth/token",
        "jwks_uri": f"{issuer}{JWKS_PATH}",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "scopes_supported": await services.scopes.scopes(),
        "introspection_endpoint": f"{issuer}/v1/oauth/introspect",
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "revocation_endpoint": f"{issuer}/v1/oauth/revoke",
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        # RFC 8414 requires a non-empty list and validators (authlib) insist; there is no authorization
        # endpoint, so no client can actually use a response type here.
        "response_types_supported": ["token"],
    }
    return Response(msgspec.json.encode(metadata), media_type=JSON, headers={"cache-control": "public, max-age=60"})
