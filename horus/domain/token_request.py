"""The rules every token request obeys, whichever endpoint and wire format carried it."""

from __future__ import annotations

from horus.domain.errors import FieldProblem, InvalidRequest, UnsupportedGrantType

MAX_CLIENT_ID_LENGTH = 256
MAX_CLIENT_SECRET_LENGTH = 1024
MAX_GRANT_TYPE_LENGTH = 64
MAX_SCOPE_LENGTH = 4096
CLIENT_CREDENTIALS = "client_credentials"


def required_text(field: str, value: object, max_length: int) -> str:
    """A field that must be a non-empty string of at most max_length characters; errors name the field."""
    if type(value) is str and 0 < len(value) <= max_length:  # the usual case, in one test
        return value
    if value is None or value == "":
        raise InvalidRequest(field, FieldProblem.MISSING, f"{field} is required")
    if not isinstance(value, str):
        raise InvalidRequest(field, FieldProblem.NOT_TEXT, f"{field} must be a string")
    if len(value) > max_length:
        raise InvalidRequest(field, FieldProblem.TOO_LONG, f"{field} must be at most {max_length} characters")
    return value


def require_client_credentials(field: str, value: object) -> None:
    if required_text(field, value, MAX_GRANT_TYPE_LENGTH) != CLIENT_CREDENTIALS:
        raise UnsupportedGrantType(field)


def requested_scopes(field: str, value: object) -> tuple[str, ...] | None:
    """RFC 6749 3.3: space-delimited; an absent or empty scope means 'what the client is allowed'."""
    if value is None or value == "":
        return None
    text = required_text(field, value, MAX_SCOPE_LENGTH)
    return tuple(sorted({token for token in text.split(" ") if token})) or None


def repeated(field: str) -> InvalidRequest:
    """RFC 6749 section 3.2: a parameter must not be included more than once."""
    return InvalidRequest(field, FieldProblem.REPEATED, f"{field} is repeated")
