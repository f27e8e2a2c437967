"""Where an OAuth client's credentials come from: HTTP Basic (client_secret_basic) or the form (client_secret_post).

RFC 6749 section 2.3.1: with Basic, the id and secret are form-urlencoded before base64.
Using both methods at once is invalid_request; using none is invalid_client.
"""

from __future__ import annotations

import binascii
from typing import NamedTuple
from urllib.parse import unquote_plus

from horus.adapters.http.form_body import has_form_escapes
from horus.domain.errors import ErrorCode, InvalidClient, InvalidRequest
from horus.domain.token_request import MAX_CLIENT_ID_LENGTH, MAX_CLIENT_SECRET_LENGTH, required_text

MAX_AUTHORIZATION_LENGTH = 4096


class PresentedCredentials(NamedTuple):
    """Made on every standard token request: a NamedTuple builds in a third of a frozen dataclass's time."""

    client_id: str
    client_secret: str


def _form_decoded(text: str) -> str:
    """unquote_plus, skipped for text it would return unchanged (most ids and every generated secret)."""
    return unquote_plus(text, errors="strict") if has_form_escapes(text) else text


def _from_basic(parameter: str) -> PresentedCredentials:
    if len(parameter) > MAX_AUTHORIZATION_LENGTH:
        raise InvalidClient()
    try:
        # What base64.b64decode(validate=True) does, without its wrapper; a non-ASCII str is a ValueError.
        decoded = binascii.a2b_base64(parameter.strip(), strict_mode=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidClient() from None
    raw_id, colon, raw_secret = decoded.partition(":")
    if not colon:
        raise InvalidClient()
    client_id, client_secret = _form_decoded(raw_id), _form_decoded(raw_secret)
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
