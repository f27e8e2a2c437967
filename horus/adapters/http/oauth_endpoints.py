"""The standard endpoints: token (RFC 6749 4.4), introspection (RFC 7662) and revocation (RFC 7009).

They share the domain core with the legacy endpoint; only the wire format differs.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, Router, post

from horus.adapters.http.asgi_exchange import Receive, Scope, Send, answer_other_method, read_body, send_json
from horus.adapters.http.client_address import client_address
from horus.adapters.http.client_credentials import presented_credentials
from horus.adapters.http.error_table import NO_STORE_HEADERS, OAUTH_EXCEPTION_HANDLERS, SUCCESS, oauth_error
from horus.adapters.http.form_body import FORM, MAX_FORM_BODY, parse_form, read_form
from horus.adapters.http.json_body import JSON, media_type, unsupported_media_type
from horus.adapters.http.request_context import annotate, request_facts
from horus.adapters.http.request_headers import request_headers
from horus.adapters.http.services import HttpServices, services_of
from horus.domain.client import Client, is_registrable_client_id
from horus.domain.token_request import requested_scopes, require_client_credentials, required_text

OAUTH_PREFIX = "/v1/oauth"
TOKEN_PATH = OAUTH_PREFIX + "/token"
MAX_TOKEN_PARAMETER = 8192


class TokenResponse(msgspec.Struct, omit_defaults=True):
    access_token: str
    token_type: str
    expires_in: int
    scope: str | None = None


class ActiveToken(msgspec.Struct, omit_defaults=True):
    active: bool
    client_id: str
    sub: str
    exp: int
    iat: int
    iss: str
    aud: str
    jti: str
    token_type: str
    scope: str | None = None


INACTIVE = msgspec.json.encode({"active": False})


def _credentials(facts: dict[str, Any], authorization: str | None, form: dict[str, str]) -> tuple[str, str]:
    client_id, client_secret = presented_credentials(authorization, form)
    if is_registrable_client_id(client_id):
        facts["client_id"] = client_id
    return client_id, client_secret


async def issue_token(services: HttpServices, scope: Scope, receive: Receive, send: Send) -> None:
    """A plain ASGI endpoint, as the legacy token endpoint (see asgi_exchange and application)."""
    if await answer_other_method(scope, send):
        return
    try:
        body = await _issue(services, scope, receive)
    except Exception as error:
        answer = oauth_error(scope, error)
        await send_json(send, answer.body, answer.status, answer.headers)
        return
    await send_json(send, body)


async def _issue(services: HttpServices, scope: Scope, receive: Receive) -> bytes:
    facts = request_facts(scope)
    headers = request_headers(scope)
    if media_type(headers.get(b"content-type")) != FORM:
        raise unsupported_media_type(FORM)
    form = parse_form(await read_body(headers, receive, MAX_FORM_BODY))
    require_client_credentials("grant_type", form.get("grant_type"))
    client_id, client_secret = _credentials(facts, headers.get(b"authorization"), form)
    scopes = requested_scopes("scope", form.get("scope"))
    address = client_address(scope, services.trusted_proxies)
    issued = await services.grant.issue(client_id, client_secret, scopes, address)
    facts["code"] = SUCCESS.code
    return msgspec.json.encode(TokenResponse(issued.access_token, "Bearer", issued.expires_in, issued.scope))


async def _authenticated_client(request: Request[Any, Any, Any], services: HttpServices) -> tuple[Client, str]:
    form = await read_form(request)
    client_id, client_secret = _credentials(request_facts(request.scope), request.headers.get("authorization"), form)
    address = client_address(request.scope, services.trusted_proxies)
    client = await services.authenticator.authenticate(client_id, client_secret, address)
    token = required_text("token", form.get("token"), MAX_TOKEN_PARAMETER)
    return client, token


def _json(payload: bytes) -> Response[bytes]:
    return Response(payload, media_type=JSON, headers=NO_STORE_HEADERS)


@post("/introspect", request_max_body_size=MAX_FORM_BODY, status_code=200)
async def introspect_token(request: Request[Any, Any, Any]) -> Response[bytes]:
    services = services_of(request)
    _, token = await _authenticated_client(request, services)
    claims = await services.introspection.introspect(token)
    annotate(request.scope, code=SUCCESS.code)
    if claims is None:
        return _json(INACTIVE)
    active = ActiveToken(
        active=True,
        client_id=claims.client_id,
        sub=claims.sub,
        exp=claims.exp,
        iat=claims.iat,
        iss=claims.iss,
        aud=claims.aud,
        jti=claims.jti,
        token_type="Bearer",
        scope=claims.scope,
    )
    return _json(msgspec.json.encode(active))


@post("/revoke", request_max_body_size=MAX_FORM_BODY, status_code=200)
async def revoke_token(request: Request[Any, Any, Any]) -> Response[bytes]:
    services = services_of(request)
    client, token = await _authenticated_client(request, services)
    await services.introspection.revoke(token, client)
    annotate(request.scope, code=SUCCESS.code)
    return _json(b"{}")


oauth_router = Router(
    OAUTH_PREFIX,
    route_handlers=[introspect_token, revoke_token],
    exception_handlers=OAUTH_EXCEPTION_HANDLERS,
)
