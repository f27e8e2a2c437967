"""Hostile input on every endpoint: always the documented error, never a 500, and never slow."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from horus.adapters.http.client_credentials import presented_credentials
from horus.adapters.http.error_table import RequestRejected, describe
from horus.adapters.http.form_body import parse_form
from horus.adapters.http.json_body import decode_json_object
from horus.adapters.http.legacy_token import LegacyTokenRequest
from horus.domain.errors import InvalidClient, InvalidRequest

LEGACY = "/v1/nonspec/oauth2/auth/server"
TOKEN = "/v1/oauth/token"
FORM = {"content-type": "application/x-www-form-urlencoded"}
JSON = {"content-type": "application/json"}
POST_PATHS = [LEGACY, TOKEN, "/v1/oauth/introspect", "/v1/oauth/revoke"]


def outcome(call: Any) -> str:
    """'ok', or the HTTP status of the expected error it raised; anything else propagates and fails."""
    try:
        call()
    except (InvalidRequest, InvalidClient, RequestRejected) as error:
        return str(describe(error).wire.status)
    return "ok"


@given(st.binary(max_size=2048))
def test_any_bytes_decode_to_a_request_or_a_400(body: bytes) -> None:
    assert outcome(lambda: decode_json_object(body, LegacyTokenRequest)) in ("ok", "400")


# Lone surrogates are excluded: JSON can escape them, and Horus answers them with 400 (not valid Unicode).
text = st.text(alphabet=st.characters(exclude_categories=["Cs"]))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.sampled_from(["grantType", "clientId", "clientSecret", "x"]), json_values))
def test_any_json_object_decodes(fields: dict[str, Any]) -> None:
    import json

    decoded = decode_json_object(json.dumps(fields).encode(), LegacyTokenRequest)
    assert fields.get("clientId") == decoded.clientId


@given(st.binary(max_size=2048))
def test_any_bytes_parse_as_a_form_or_a_400(body: bytes) -> None:
    assert outcome(lambda: parse_form(body)) in ("ok", "400")


form_fields = st.dictionaries(st.sampled_from(["client_id", "client_secret", "x"]), st.text(min_size=1, max_size=50))


@given(st.text(max_size=300), form_fields)
def test_any_authorization_header_yields_credentials_or_an_oauth_error(header: str, form: dict[str, str]) -> None:
    assert outcome(lambda: presented_credentials(header, form)) in ("ok", "400", "401")


@given(st.binary(max_size=200))
def test_any_basic_payload_yields_credentials_or_invalid_client(payload: bytes) -> None:
    header = "Basic " + base64.b64encode(payload).decode()
    assert outcome(lambda: presented_credentials(header, {})) in ("ok", "400", "401")


async def test_a_2_kib_body_nested_1000_levels_is_a_fast_400(client: Any) -> None:
    body = b'{"clientId":' + b"[" * 1000 + b"]" * 1000 + b"}"
    assert len(body) <= 2048 + 16
    started = time.perf_counter()
    response = await client.post(LEGACY, content=body, headers=JSON)
    elapsed = time.perf_counter() - started
    assert (400, 400004) == (response.status_code, response.json()["code"])
    assert elapsed < 0.05


async def test_a_form_with_900000_fields_is_refused_fast(client: Any) -> None:
    body = b"&".join([b"a=1"] * 900_000)
    started = time.perf_counter()
    response = await client.post(TOKEN, content=body, headers=FORM)
    elapsed = time.perf_counter() - started
    assert (413, "invalid_request") == (response.status_code, response.json()["error"])
    assert elapsed < 0.05


async def test_many_small_fields_under_the_size_cap_are_refused_fast(client: Any) -> None:
    body = b"&".join([b"a"] * 8000)  # 16 KiB of empty parameters
    started = time.perf_counter()
    response = await client.post(TOKEN, content=body[:16000], headers=FORM)
    assert (400, "invalid_request") == (response.status_code, response.json()["error"])
    assert time.perf_counter() - started < 0.05


@pytest.mark.parametrize("path", POST_PATHS)
@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b"\xff\xfe\x00garbage", JSON),
        (b"\xff\xfe\x00garbage", FORM),
        (b'{"clientId": "\\u0000", "clientSecret": "\\ud800", "grantType": "client_credentials"}', JSON),
        (b"token=%00&client_id=%00&client_secret=%00", FORM),
        (b'{"clientId": 1, "clientId": {"a": [1]}, "clientSecret": 2.5, "grantType": true}', JSON),
        (b"grant_type=client_credentials&client_id=\xe2\x98\x83&client_secret=\xf0\x9f\x92\xa9&token=x", FORM),
        ("🔑".encode() * 1000, {"content-type": "application/json; charset=utf-16"}),
        (b"", {"content-type": "multipart/form-data; boundary=x"}),
        (b"x" * 20000, {"content-type": "text/plain"}),
    ],
)
async def test_garbage_never_gets_a_500(client: Any, path: str, content: bytes, headers: dict[str, str]) -> None:
    response = await client.post(path, content=content, headers=headers)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["x-horus-request-id"]


@pytest.mark.parametrize("path", POST_PATHS)
async def test_very_long_headers_and_ids_get_a_4xx(client: Any, path: str) -> None:
    headers = {
        **FORM,
        "authorization": "Basic " + "A" * 60_000,
        "x-horus-request-id": "r" * 10_000,
        "x-forwarded-for": "1.1.1.1, " * 1000,
    }
    response = await client.post(path, content=b"client_id=" + b"i" * 10_000 + b"&token=t", headers=headers)
    assert 400 <= response.status_code < 500
    assert 128 >= len(response.headers["x-horus-request-id"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    client_id=st.text(max_size=300),
    secret=st.text(max_size=1100),
    grant_type=st.one_of(st.text(max_size=30), st.just("client_credentials")),
)
async def test_unicode_in_every_legacy_field_is_a_4xx(
    client: Any, client_id: str, secret: str, grant_type: str
) -> None:
    response = await client.post(LEGACY, json={"grantType": grant_type, "clientId": client_id, "clientSecret": secret})
    assert response.status_code in (400, 401, 429), response.text
    assert response.json()["content"] is None
