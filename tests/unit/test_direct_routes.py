"""POSTs to the token endpoints bypass Litestar's router (HorusAsgiApp.dispatch): the answers must not change.

Each request is sent once through the app as served and once through the Litestar app inside it,
wrapped in the same request-context middleware but without the direct routes (the app as it was
before them): Litestar's router, its exception middleware and the handlers registered on each layer.
Both must answer with the same status, headers and body, and count the same outcome in the metrics.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from dependency_injector import providers
from litestar import Response
from litestar.enums import MediaType
from litestar.testing import AsyncTestClient

from horus.adapters.http.application import HorusAsgiApp
from horus.adapters.http.direct_routes import send_plain_response
from horus.adapters.http.request_context import RequestContextMiddleware
from horus.adapters.observability.metrics import Metrics
from horus.adapters.storage.memory import MemoryStorage
from horus.app import create_app, resolved
from horus.domain.errors import StorageUnavailable
from tests.conftest import make_container, make_settings
from tests.unit.test_legacy_endpoint import FailingStorage

LEGACY = "/v1/nonspec/oauth2/auth/server"
TOKEN = "/v1/oauth/token"
JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
TOKEN_SAMPLES = ("horus_token_requests_total", "horus_tokens_issued_total")
SVC_SECRET = "svc-parity-secret"


def basic(raw: bytes) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(raw).decode()}


def legacy_json(**fields: Any) -> bytes:
    return json.dumps({"grantType": "client_credentials", "clientId": "svc", "clientSecret": "s", **fields}).encode()


BAD_REQUESTS: list[tuple[str, str, bytes, dict[str, str]]] = [
    # (case, path, body, headers)
    ("legacy wrong content type", LEGACY, legacy_json(), {"content-type": "text/plain"}),
    ("legacy body without content type", LEGACY, legacy_json(), {}),
    ("legacy empty body", LEGACY, b"", JSON),
    ("legacy blank body", LEGACY, b"  \n", JSON),
    ("legacy invalid JSON", LEGACY, b"{", JSON),
    ("legacy invalid UTF-8", LEGACY, b'{"clientId": "\xff"}', JSON),
    ("legacy JSON array", LEGACY, b"[]", JSON),
    ("legacy JSON string", LEGACY, b'"svc"', JSON),
    ("legacy nested too deep", LEGACY, b'{"x":' + b"[" * 100 + b"]" * 100 + b"}", JSON),
    ("legacy missing fields", LEGACY, b'{"grantType": "client_credentials"}', JSON),
    ("legacy missing secret", LEGACY, b'{"grantType": "client_credentials", "clientId": "svc"}', JSON),
    ("legacy field of the wrong type", LEGACY, legacy_json(clientId=7), JSON),
    ("legacy too-long clientId", LEGACY, legacy_json(clientId="a" * 257), JSON),
    ("legacy unsupported grant type", LEGACY, legacy_json(grantType="password"), JSON),
    ("legacy body over 16 KiB", LEGACY, legacy_json(padding="x" * 17_000), JSON),
    ("legacy unknown client", LEGACY, legacy_json(clientId="nobody"), JSON),
    ("legacy unregistrable client id", LEGACY, legacy_json(clientId="no body\x00"), JSON),
    ("legacy wrong secret", LEGACY, legacy_json(clientSecret="wrong"), JSON),
    ("oauth wrong content type", TOKEN, b'{"grant_type": "client_credentials"}', JSON),
    ("oauth body without content type", TOKEN, b"grant_type=client_credentials", {}),
    ("oauth empty body", TOKEN, b"", FORM),
    ("oauth invalid JSON as a form", TOKEN, b"{", FORM),
    ("oauth JSON array as a form", TOKEN, b"[]", FORM),
    ("oauth invalid UTF-8", TOKEN, b"grant_type=%FF", FORM),
    ("oauth too many fields", TOKEN, b"&".join(b"f%d=1" % index for index in range(40)), FORM),
    ("oauth repeated field", TOKEN, b"grant_type=client_credentials&grant_type=client_credentials", FORM),
    ("oauth missing grant type", TOKEN, b"client_id=svc&client_secret=s", FORM),
    ("oauth missing credentials", TOKEN, b"grant_type=client_credentials", FORM),
    ("oauth missing secret", TOKEN, b"grant_type=client_credentials&client_id=svc", FORM),
    ("oauth too-long client_id", TOKEN, b"grant_type=client_credentials&client_secret=s&client_id=" + b"a" * 257, FORM),
    ("oauth unsupported grant type", TOKEN, b"grant_type=password&client_id=svc&client_secret=s", FORM),
    (
        "oauth invalid scope",
        TOKEN,
        b"grant_type=client_credentials&scope=admin",
        {**FORM, **basic(b"svc:" + SVC_SECRET.encode())},
    ),
    ("oauth body over 16 KiB", TOKEN, b"grant_type=client_credentials&x=" + b"a" * 17_000, FORM),
    ("oauth unknown client", TOKEN, b"grant_type=client_credentials&client_id=nobody&client_secret=s", FORM),
    ("oauth wrong secret in the form", TOKEN, b"grant_type=client_credentials&client_id=svc&client_secret=s", FORM),
    ("oauth wrong secret in Basic", TOKEN, b"grant_type=client_credentials", {**FORM, **basic(b"svc:wrong")}),
    (
        "oauth Basic and client_secret both",
        TOKEN,
        b"grant_type=client_credentials&client_secret=s",
        {**FORM, **basic(b"svc:wrong")},
    ),
    (
        "oauth Basic and another client_id",
        TOKEN,
        b"grant_type=client_credentials&client_id=other",
        {**FORM, **basic(b"svc:wrong")},
    ),
    ("oauth malformed Basic", TOKEN, b"grant_type=client_credentials", {**FORM, "authorization": "Basic !!!"}),
    ("oauth Basic without a colon", TOKEN, b"grant_type=client_credentials", {**FORM, **basic(b"svc")}),
    ("oauth another scheme", TOKEN, b"grant_type=client_credentials", {**FORM, "authorization": "Bearer abc"}),
]


class Switch:
    """One ASGI app with two routes to the same Litestar app: the served app, or Litestar without direct routes.

    The reference keeps the request-context middleware: without it the handlers' annotations (the
    client_id, the code, whether Basic was tried) have nowhere to go, and a 401 to a Basic attempt
    would lack its WWW-Authenticate challenge; the x-horus-request-id header would be missing too.
    """

    def __init__(self, app: HorusAsgiApp) -> None:
        self.served = app
        self.reference_metrics = Metrics(frozenset(route.path for route in app.litestar.routes))
        self.reference = RequestContextMiddleware(app.litestar, self.reference_metrics)
        self.through_litestar = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan" or not self.through_litestar:
            await self.served(scope, receive, send)
        else:
            await self.reference(scope, receive, send)


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class Both:
    http: AsyncTestClient[Any]
    switch: Switch

    async def send(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Answer:
        response = await self.http.request(method, path, content=body, headers=headers)
        return Answer(response.status_code, sorted(response.headers.multi_items()), response.content)

    async def both(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[Answer, Answer]:
        """The answer through the direct route, then through Litestar, to the same request (same request id)."""
        headers = {"x-horus-request-id": "parity-check", **(headers or {})}
        self.switch.through_litestar = False
        direct = await self.send(method, path, body, headers)
        self.switch.through_litestar = True
        try:
            routed = await self.send(method, path, body, headers)
        finally:
            self.switch.through_litestar = False
        return direct, routed


@asynccontextmanager
async def serving(storage: MemoryStorage | None = None, client_failures: str = "1000000") -> AsyncIterator[Both]:
    # Generous throttling limits: each failed authentication is sent twice, and 401s must not become 429s.
    settings = make_settings(HORUS_THROTTLE_CLIENT_FAILURES=client_failures, HORUS_THROTTLE_ADDRESS_FAILURES="1000000")
    container = make_container(settings)
    if storage is not None:
        container.storage.override(providers.Object(storage))
    switch = Switch(create_app(container))
    async with AsyncTestClient(app=switch) as http:
        if storage is None:
            administration = await resolved(container.administration())
            await administration.create(client_id="svc", scope="read", imported_secret=SVC_SECRET)
            await administration.create(client_id="other")
        yield Both(http, switch)


@pytest.fixture
async def both() -> AsyncIterator[Both]:
    async with serving() as served:
        yield served


def token_samples(metrics: Metrics) -> list[str]:
    lines = metrics.exposition().decode("utf-8").splitlines()
    return sorted(line for line in lines if line.startswith(TOKEN_SAMPLES))


@pytest.mark.parametrize(("case", "path", "body", "headers"), BAD_REQUESTS, ids=[case[0] for case in BAD_REQUESTS])
async def test_a_bad_request_gets_the_same_answer_as_through_litestar(
    both: Both, case: str, path: str, body: bytes, headers: dict[str, str]
) -> None:
    direct, routed = await both.both("POST", path, body, headers)
    assert 400 <= direct.status < 500
    assert routed == direct
    assert token_samples(both.switch.reference_metrics) == token_samples(both.switch.served.request_metrics)


async def test_every_bad_request_is_answered_as_litestar_would_and_counted_alike(both: Both) -> None:
    statuses = []
    for _, path, body, headers in BAD_REQUESTS:
        direct, routed = await both.both("POST", path, body, headers)
        assert routed == direct
        statuses.append(direct.status)
    assert {400, 401, 413, 415} == set(statuses)
    assert token_samples(both.switch.reference_metrics)  # the reference route did count them
    assert token_samples(both.switch.reference_metrics) == token_samples(both.switch.served.request_metrics)


@pytest.mark.parametrize(
    ("path", "body", "headers"),
    [
        (LEGACY, legacy_json(clientSecret=SVC_SECRET), JSON),
        (TOKEN, b"grant_type=client_credentials&scope=read", {**FORM, **basic(b"svc:" + SVC_SECRET.encode())}),
    ],
)
async def test_a_success_has_the_same_status_headers_and_fields_as_through_litestar(
    both: Both, path: str, body: bytes, headers: dict[str, str]
) -> None:
    direct, routed = await both.both("POST", path, body, headers)
    assert 200 == direct.status
    assert (routed.status, routed.headers) == (direct.status, direct.headers)  # the tokens have the same length
    assert without_token(json.loads(routed.body)) == without_token(json.loads(direct.body))
    assert token_samples(both.switch.reference_metrics) == token_samples(both.switch.served.request_metrics)


def without_token(payload: dict[str, Any]) -> dict[str, Any]:
    content = payload.get("content")
    if isinstance(content, dict):
        return {**payload, "content": {**content, "accessToken": "<token>"}}
    return {**payload, "access_token": "<token>"}


@pytest.mark.parametrize("path", [LEGACY, TOKEN])
async def test_options_lists_the_methods(both: Both, path: str) -> None:
    direct, routed = await both.both("OPTIONS", path)
    assert routed == direct
    assert (204, b"") == (direct.status, direct.body)
    assert ("allow", "OPTIONS, POST") in direct.headers


@pytest.mark.parametrize("path", [LEGACY, TOKEN])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
async def test_other_methods_get_405_in_the_legacy_envelope_with_allow(both: Both, path: str, method: str) -> None:
    direct, routed = await both.both(method, path)
    assert routed == direct
    assert 405 == direct.status
    assert {"code": 405000, "message": "method not allowed on this endpoint", "content": None} == json.loads(
        direct.body
    )
    assert ("allow", "OPTIONS, POST") in direct.headers
    assert ("content-type", "application/json") in direct.headers


@pytest.mark.parametrize("path", [LEGACY, TOKEN])
async def test_head_gets_405_with_allow_and_no_body(both: Both, path: str) -> None:
    direct, routed = await both.both("HEAD", path)
    assert routed == direct
    assert (405, b"") == (direct.status, direct.body)
    assert ("allow", "OPTIONS, POST") in direct.headers


SERVER_ERRORS = [(StorageUnavailable(), 503), (RuntimeError("storage exploded"), 500)]


@pytest.mark.parametrize(("error", "status"), SERVER_ERRORS, ids=["storage unavailable", "unexpected error"])
@pytest.mark.parametrize(
    ("path", "body", "headers"),
    [
        (LEGACY, legacy_json(), JSON),
        (TOKEN, b"grant_type=client_credentials&client_id=svc&client_secret=s", FORM),
    ],
)
async def test_a_server_error_gets_the_same_answer_as_through_litestar(
    error: Exception, status: int, path: str, body: bytes, headers: dict[str, str]
) -> None:
    async with serving(FailingStorage(error)) as failing:
        direct, routed = await failing.both("POST", path, body, headers)
        assert status == direct.status
        assert routed == direct
        assert token_samples(failing.switch.reference_metrics) == token_samples(failing.switch.served.request_metrics)


@pytest.mark.parametrize(
    ("path", "body", "headers"),
    [
        (LEGACY, legacy_json(clientSecret="wrong"), JSON),
        (TOKEN, b"grant_type=client_credentials", {**FORM, **basic(b"svc:wrong")}),
    ],
)
async def test_a_throttled_request_gets_the_same_answer_as_through_litestar(
    path: str, body: bytes, headers: dict[str, str]
) -> None:
    async with serving(client_failures="2") as served:
        first, second = await served.both("POST", path, body, headers)  # the two failures the limit allows
        assert (401, 401) == (first.status, second.status)
        direct, routed = await served.both("POST", path, body, headers)
        assert 429 == direct.status
        assert routed == direct
        assert any(name == "retry-after" for name, _ in direct.headers)
        assert token_samples(served.switch.reference_metrics) == token_samples(served.switch.served.request_metrics)


@pytest.mark.parametrize(
    "response",
    [
        Response(b"hi", media_type="text/plain"),
        Response({"a": 1}),
        Response(b"{}", media_type=MediaType.JSON),
        Response(b"{}", cookies={"a": "b"}),
        Response(b"", status_code=204),
    ],
    ids=["text gets a charset", "content to serialise", "enum media type", "cookies", "204"],
)
async def test_responses_beyond_plain_bytes_are_left_to_litestar(response: Response[Any]) -> None:
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    assert not await send_plain_response(response, send)
    assert [] == sent


async def call_asgi(app: Any, path: str, headers: dict[str, str], chunks: list[bytes]) -> Answer:
    """A POST straight to an ASGI app, its body in several http.request messages and no declared length."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(name.encode(), value.encode()) for name, value in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver.local", 80),
        "state": {},
    }
    messages = [{"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks]
    messages[-1]["more_body"] = False
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start, *bodies = sent
    headers_out = sorted((name.decode(), value.decode()) for name, value in start["headers"])
    return Answer(start["status"], headers_out, b"".join(body.get("body", b"") for body in bodies))


@pytest.mark.parametrize(
    ("path", "headers", "chunks", "status"),
    [
        (LEGACY, JSON, [b"x" * 1024] * 17, 413),
        (TOKEN, FORM, [b"x" * 1024] * 17, 413),
        (LEGACY, JSON, [b"x" * (16 * 1024 + 1)], 413),
        (LEGACY, JSON, [b"x" * (16 * 1024)], 400),
        (LEGACY, JSON, [legacy_json(clientId="nobody")[:10], legacy_json(clientId="nobody")[10:]], 401),
        (TOKEN, FORM, [b"grant_type=client_credentials&cli", b"ent_id=nobody&client_secret=s"], 401),
    ],
    ids=[
        "legacy over 16 KiB",
        "oauth over 16 KiB",
        "legacy one byte over 16 KiB in one message",
        "legacy 16 KiB exactly in one message",
        "legacy in two chunks",
        "oauth in two chunks",
    ],
)
async def test_a_body_in_chunks_without_a_declared_length_gets_the_same_answer(
    both: Both, path: str, headers: dict[str, str], chunks: list[bytes], status: int
) -> None:
    headers = {"x-horus-request-id": "chunked", "host": "testserver.local", **headers}
    direct = await call_asgi(both.switch.served, path, headers, chunks)
    routed = await call_asgi(both.switch.reference, path, headers, chunks)
    assert status == direct.status
    assert routed == direct
