"""RequestHeaders: one look-up table per request, names in lower case as ASGI servers give them."""

from __future__ import annotations

from horus.adapters.http.request_headers import HEADERS_KEY, RequestHeaders, request_headers

HEADERS = [(b"content-type", b"application/json"), (b"x-dup", b"first"), (b"x-dup", b"second")]


def test_a_header_s_first_value_is_given_as_text() -> None:
    headers = RequestHeaders(HEADERS)
    assert "application/json" == headers.get(b"content-type")
    assert "first" == headers.get(b"x-dup")


def test_a_missing_header_is_none() -> None:
    headers = RequestHeaders(HEADERS)
    assert headers.get(b"authorization") is None
    assert headers.raw(b"authorization") is None


def test_values_are_latin_1_as_http_sends_them() -> None:
    assert "caf\u00e9" == RequestHeaders([(b"x-name", b"caf\xe9")]).get(b"x-name")


def test_a_handler_gets_the_middleware_s_headers_or_makes_its_own() -> None:
    made = RequestHeaders(HEADERS)
    assert made is request_headers({HEADERS_KEY: made, "headers": []})
    assert "first" == request_headers({"headers": HEADERS}).get(b"x-dup")
