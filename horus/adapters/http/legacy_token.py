"""POST /v1/nonspec/oauth2/auth/server: the legacy Horus token endpoint, contract fixed by the seed document.

A plain ASGI endpoint (see asgi_exchange and application): it reads the request and answers at
the ASGI level, its errors included, in the legacy envelope from the error table.
"""

from __future__ import annotations

import msgspec

from horus.adapters.http.asgi_exchange import Receive, Scope, Send, answer_other_method, read_body, send_json
from horus.adapters.http.client_address import client_address
from horus.adapters.http.error_table import SUCCESS, legacy_error
from horus.adapters.http.json_body import JSON, MAX_JSON_BODY, decode_json_object, media_type, unsupported_media_type
from horus.adapters.http.legacy_envelope import LegacyEnvelope, LegacyTokenContent
from horus.adapters.http.request_context import request_facts
from horus.adapters.http.request_headers import request_headers
from horus.adapters.http.services import HttpServices
from horus.domain.client import is_registrable_client_id
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


async def issue_legacy_token(services: HttpServices, scope: Scope, receive: Receive, send: Send) -> None:
    if await answer_other_method(scope, send):
        return
    try:
        body = await _issue(services, scope, receive)
    except Exception as error:
        answer = legacy_error(scope, error)
        await send_json(send, answer.body, answer.status, answer.headers)
        return
    await send_json(send, body)


async def _issue(services: HttpServices, scope: Scope, receive: Receive) -> bytes:
    facts = request_facts(scope)
    headers = request_headers(scope)
    content_type = headers.get(b"content-type")
    if content_type is not None and content_type != JSON and media_type(content_type) != JSON:
        raise unsupported_media_type(JSON)
    body = await read_body(headers, receive, MAX_JSON_BODY)
    if content_type is None and body:
        raise unsupported_media_type(JSON)
    fields = decode_json_object(body, LegacyTokenRequest)
    client_id = required_text("clientId", fields.clientId, MAX_CLIENT_ID_LENGTH)
    client_secret = required_text("clientSecret", fields.clientSecret, MAX_CLIENT_SECRET_LENGTH)
    require_client_credentials("grantType", fields.grantType)
    if is_registrable_client_id(client_id):
        facts["client_id"] = client_id
    address = client_address(scope, services.trusted_proxies)
    issued = await services.grant.issue(client_id, client_secret, address=address)
    facts["code"] = SUCCESS.code
    content = LegacyTokenContent(expiresIn=f"{issued.expires_in}s", accessToken=issued.access_token, tokenType="bearer")
    return msgspec.json.encode(LegacyEnvelope(SUCCESS.code, "success", content))
