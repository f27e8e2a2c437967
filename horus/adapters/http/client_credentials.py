"""Where an OAuth client's credentials come from: HTTP Basic (client_secret_basic) or the form (client_secret_post).

RFC 6749 section 2.3.1: with Basic, the id and secret are form-urlencoded before base64.
Using both methods at once is invalid_request; using none is invalid_client.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_plus

from horus.domain.errors import FieldProblem, InvalidClient, InvalidRequest
from horus.domain.token_request import MAX_CLIENT_ID_LENGTH, MAX_CLIENT_SECRET_LENGTH, required_text

MAX_AUTHORIZATION_LENGTH = 4096


def _from_basic(parameter: str) -> tuple[str, str]:
    if len(parameter) > MAX_AUTHORIZATION_LENGTH:
        raise InvalidClient()
    try:
        decoded = base64.b64decode(parameter.strip(), validate=True).decode("utf-8")
        client_id, colon, client_secret = decoded.partition(":")
        client_id = unquote_plus(client_id, errors="strict")
        client_secret = unquote_plus(client_secret, errors="strict")
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidClient() from None
    if not colon or not client_id or not client_secret:
        raise InvalidClient()
    return (
        required_text("client_id", client_id, MAX_CLIENT_ID_LENGTH),
        required_text("client_secret", client_secret, MAX_CLIENT_SECRET_LENGTH),
    )


def presented_credentials(authorization: str | None, form: dict[str, str]) -> tuple[str, str]:
    """(client_id, client_secret); raises InvalidClient when no usable credentials are presented."""
    if authorization is not None:
        scheme, _, parameter = authorization.strip().partition(" ")
        if scheme.lower() != "basic":
            raise InvalidClient()
        client_id, client_secret = _from_basic(parameter)
        if "client_secret" in form:
            raise InvalidRequest(
                "client_secret",
                FieldProblem.CONFLICTING,
                "use one client authentication method, not Basic and client_secret both",
            )
        if form.get("client_id", client_id) != client_id:
            raise InvalidRequest("client_id", FieldProblem.CONFLICTING, "client_id differs from the Basic credentials")
        return client_id, client_secret
    if "client_id" not in form or "client_secret" not in form:
        raise InvalidClient()
    return (
        required_text("client_id", form["client_id"], MAX_CLIENT_ID_LENGTH),
        required_text("client_secret", form["client_secret"], MAX_CLIENT_SECRET_LENGTH),
    )
