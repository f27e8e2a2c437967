"""POST /v1/nonspec/oauth2/auth/server: the legacy Horus token endpoint, contract fixed by the seed document."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, post

from horus.adapters.http.client_address import client_address
from horus.adapters.http.json_body import MAX_JSON_BODY, UnsupportedMediaType, decode_json_object, media_type
from horus.adapters.http.legacy_envelope import JSON, LegacyTokenContent, envelope_response
from horus.adapters.http.request_context import annotate
from horus.adapters.http.services import services_of
from horus.domain.client import is_registrable_client_id
from horus.domain.errors import ErrorCode
from horus.domain.token_request import (
    MAX_CLIENT_ID_LENGTH,
    MAX_CLIENT_SECRET_LENGTH,
    require_client_credentials,
    required_text,
)

LEGACY_TOKEN_PATH = "/v1/nonspec/oauth2/auth/server"


class LegacyTokenRequest(msgspec.Struct):
    """Unknown fields are ignored; every field is checked by the domain rules, not by the decoder."""

    grantType: object = None
    clientId: object = None
    clientSecret: object = None


@post(
    LEGACY_TOKEN_PATH,
    request_max_body_size=MAX_JSON_BODY,
)
async def issue_legacy_token(request: Request[Any, Any, Any]) -> Response[bytes]:
    services = services_of(request)
    content_type = request.headers.get("content-type")
    if content_type is not None and media_type(content_type) != JSON:
        raise UnsupportedMediaType(JSON)
    body = await request.body()
    if content_type is None and body:
        raise UnsupportedMediaType(JSON)
    fields = decode_json_object(body, LegacyTokenRequest)
    client_id = required_text("clientId", fields.clientId, MAX_CLIENT_ID_LENGTH)
    client_secret = required_text("clientSecret", fields.clientSecret, MAX_CLIENT_SECRET_LENGTH)
    require_client_credentials("grantType", fields.grantType)
    if is_registrable_client_id(client_id):
        annotate(request.scope, client_id=client_id)
    address = client_address(request.scope, services.trusted_proxies)
    issued = await services.grant.issue(client_id, client_secret, address=address)
    annotate(request.scope, code=int(ErrorCode.SUCCESS))
    return envelope_response(
        ErrorCode.SUCCESS,
        "success",
        LegacyTokenContent(expiresIn=f"{issued.expires_in}s", accessToken=issued.access_token, tokenType="bearer"),
    )
