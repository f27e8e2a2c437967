"""Reading an application/x-www-form-urlencoded body the way RFC 6749 wants it, within fixed bounds.

Litestar's own form parser takes about 10 s for 900,000 fields under its default 10 MB
limit; here the body is capped at 16 KiB and the field count at 32 before parsing starts.
RFC 6749 section 3.2: an empty parameter counts as absent, a repeated one is invalid.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from litestar import Request

from horus.adapters.http.json_body import UnsupportedMediaType, media_type
from horus.domain.errors import ErrorCode, InvalidRequest

FORM = "application/x-www-form-urlencoded"
MAX_FORM_BODY = 16 * 1024
MAX_FORM_FIELDS = 32


def has_form_escapes(text: str) -> bool:
    """Whether form decoding (unquote_plus) would change the text: without '%' or '+' it is the text itself."""
    return "%" in text or "+" in text


def parse_form(body: bytes) -> dict[str, str]:
    if body.count(b"&") >= MAX_FORM_FIELDS:
        raise InvalidRequest(f"the body has more than {MAX_FORM_FIELDS} parameters", ErrorCode.BAD_REQUEST)
    try:
        text = body.decode("utf-8")
        if has_form_escapes(text):
            return _without_blanks(
                parse_qsl(
                    text, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=MAX_FORM_FIELDS
                )
            )
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("the body is not valid UTF-8 form data", ErrorCode.BODY_NOT_JSON) from None
    # Nothing to unquote: what parse_qsl would return, without its per-field work. _without_blanks' loop,
    # written out on the fields directly: building the pairs first cost the token path 0.1-0.7 us more.
    form: dict[str, str] = {}
    blank = False
    for field in text.split("&"):
        if field:
            name, _, value = field.partition("=")
            if name in form:
                raise _repeated(name)
            form[name] = value
            blank = blank or not value
    return {name: value for name, value in form.items() if value} if blank else form


def _without_blanks(pairs: list[tuple[str, str]]) -> dict[str, str]:
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise _repeated(name)
        form[name] = value
    return {name: value for name, value in form.items() if value}


def _repeated(name: str) -> InvalidRequest:
    return InvalidRequest(f"{name} is repeated", ErrorCode.FIELD_REQUIRED, name)


async def read_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    if media_type(request.headers.get("content-type")) != FORM:
        raise UnsupportedMediaType(FORM)
    return parse_form(await request.body())
