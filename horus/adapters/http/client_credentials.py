"""Where an OAuth client's credentials come from: HTTP Basic (client_secret_basic) or the form (client_secret_post).

RFC 6749 section 2.3.1: with Basic, the id and secret are form-urlencoded before base64.
Using both methods at once is invalid_request; using none is invalid_client.
"""

from __future__ import annotations

import binascii
from urllib.parse import unquote_plus

from horus.adapters.http.form_body import has_form_escapes
from horus.domain.errors import ErrorCode, InvalidClient, InvalidRequest
from horus.domain.token_request import MAX_CLIENT_ID_LENGTH, MAX_CLIENT_SECRET_LENGTH, required_text

MAX_AUTHORIZATION_LENGTH = 4096


# (client_id, client_secret). A plain tuple: this is made on every standard token request, and a
# NamedTuple's Python-level __new__ costs seven times as much.
PresentedCredentials = tuple[str, str]


def _from_basic(parameter: str) -> PresentedCredentials:
    if len(parameter) > MAX_AUTHORIZATION_LENGTH:
        raise InvalidClient()
    try:
        # What base64.b64decode(validate=True) does, without its wrapper; a non-ASCII str is a ValueError.
        decoded = binascii.a2b_base64(parameter.strip(), strict_mode=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidClient() from None
    client_id, colon, client_secret = decoded.partition(":")
    if not colon:
        raise InvalidClient()
    # unquote_plus returns text without '%' or '+' unchanged: most ids and every generated secret.
    if has_form_escapes(decoded):
        client_id = unquote_plus(client_id, errors="strict")
        client_secret = unquote_plus(client_secret, errors="strict")
    if not client_id or not client_secret:
        raise InvalidClient()
    if len(client_id) > MAX_CLIENT_ID_LENGTH or len(client_secret) > MAX_CLIENT_SECRET_LENGTH:
        required_text("client_id", client_id, MAX_CLIENT_ID_LENGTH)  # raise the field's own error
        required_text("client_secret", client_secret, MAX_CLIENT_SECRET_LENGTH)
    return client_id, client_secret


def presented_credentials(authorization: str | None, form: dict[str, str]) -> PresentedCredentials:
    """Raises InvalidClient when no usable credentials are presented; the caller adds WWW-Authenticate."""
    if authorization is not None:
        scheme, _, parameter = authorization.strip().partition(" ")
        if scheme.lower() != "basic":
            raise InvalidClient()
        try:
            client_id, client_secret = _from_basic(parameter)
        except UnicodeDecodeError:
            raise InvalidClient() from None
        if "client_secret" in form:
            raise InvalidRequest(
                "use one client authentication method, not Basic and client_secret both",
                ErrorCode.FIELD_REQUIRED,
                "client_secret",
            )
        if form.get("client_id", client_id) != client_id:
            raise InvalidRequest("client_id differs from the Basic credentials", ErrorCode.FIELD_REQUIRED, "client_id")
        return client_id, client_secret
    if "client_id" not in form or "client_secret" not in form:
        raise InvalidClient()
    return (
        required_text("client_id", form["client_id"], MAX_CLIENT_ID_LENGTH),
        required_text("client_secret", form["client_secret"], MAX_CLIENT_SECRET_LENGTH),
    )
