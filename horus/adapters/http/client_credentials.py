"""Where an OAuth client's credentials come from: HTTP Basic (client_secret_basic) or the form (client_secret_post).

RFC 6749 section 2.3.1: with Basic, the id and secret are form-urlencoded before base64.
Using both methods at once is invalid_request; using none is invalid_client.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import unquote_plus

from horus.domain.errors import ErrorCode, InvalidClient, InvalidRequest
from horus.domain.token_request import MAX_CLIENT_ID_LENGTH, MAX_CLIENT_SECRET_LENGTH, required_text

MAX_AUTHORIZATION_LENGTH = 4096


@dataclass(frozen=True, slots=True)
class PresentedCredentials:
    client_id: str
    client_secret: str


def _from_basic(parameter: str) -> PresentedCredentials:
    if len(parameter) > MAX_AUTHORIZATION_LENGTH:
        raise InvalidClient()
    try:
        decoded = base64.b64decode(parameter.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidClient() from None
    raw_id, colon, raw_secret = decoded.partition(":")
    if not colon:
        raise InvalidClient()
    client_id, client_secret = unquote_plus(raw_id, errors="strict"), unquote_plus(raw_secret, errors="strict")
    if not client_id or not client_secret:
        raise InvalidClient()
    return PresentedCredentials(
        required_text("client_id", client_id, MAX_CLIENT_ID_LENGTH),
        required_text("client_secret", client_secret, MAX_CLIENT_SECRET_LENGTH),
    )


def presented_credentials(authorization: str | None, form: dict[str, str]) -> PresentedCredentials:
    """Raises InvalidClient when no usable credentials are presented; the caller adds WWW-Authenticate."""
    if authorization is not None:
        scheme, _, parameter = authorization.strip().partition(" ")
        if scheme.lower() != "basic":
            raise InvalidClient()
        try:
            credentials = _from_basic(parameter)
        except UnicodeDecodeError:
            raise InvalidClient() from None
        if "client_secret" in form:
            raise InvalidRequest(
                "use one client authentication method, not Basic and client_secret both",
                ErrorCode.FIELD_REQUIRED,
                "client_secret",
            )
        if form.get("client_id", credentials.client_id) != credentials.client_id:
            raise InvalidRequest("client_id differs from the Basic credentials", ErrorCode.FIELD_REQUIRED, "client_id")
        return credentials
    if "client_id" not in form or "client_secret" not in form:
        raise InvalidClient()
    return PresentedCredentials(
        required_text("client_id", form["client_id"], MAX_CLIENT_ID_LENGTH),
        required_text("client_secret", form["client_secret"], MAX_CLIENT_SECRET_LENGTH),
    )
