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
    # No response_types_supported: response types are what an authorization endpoint answers, and Horus has
    # none (client_credentials uses no response type, RFC 7591 2.1). RFC 8414 lists the member as REQUIRED
    # but forbids an empty array (3.2), and any value would advertise a flow Horus does not have ("token" is
    # the implicit flow); the OAuth working group's reading for servers without an authorization endpoint is
    # to omit it (as OpenID4VCI writes down). authlib's AuthorizationServerMetadata.validate() still asks for it.
    metadata: dict[str, Any] = {
        "issuer": services.issuer,
        "token_endpoint": f"{issuer}/v1/oauth/token",
        "jwks_uri": f"{issuer}{JWKS_PATH}",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "introspection_endpoint": f"{issuer}/v1/oauth/introspect",
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "revocation_endpoint": f"{issuer}/v1/oauth/revoke",
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
    }
    if services.scopes is not None:  # opt-in: the union of every client's scopes tells who the clients are
        scopes = await services.scopes.scopes()
        if scopes:  # RFC 8414 3.2: a member with zero elements is omitted
            metadata["scopes_supported"] = scopes
    return Response(msgspec.json.encode(metadata), media_type=JSON, headers={"cache-control": "public, max-age=60"})
