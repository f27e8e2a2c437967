"""POST /v1/nonspec/oauth2/auth/server through the real app (memory storage): the seed contract."""

from __future__ import annotations

import base64
import re
from typing import Any

import jwt
import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient

from horus.adapters.storage.memory import MemoryStorage
from horus.app import create_app
from horus.domain.errors import StorageUnavailable
from tests.conftest import make_container, make_settings

LEGACY = "/v1/nonspec/oauth2/auth/server"
JSON = {"content-type": "application/json"}


@pytest.fixture
async def registered(admin: Any) -> tuple[str, str]:
    created = await (await admin()).create(client_id="billing.apps", scope="read write")
    return created.client.client_id, created.secret


def body(client_id: str, secret: str, grant_type: str = "client_credentials") -> dict[str, str]:
    return {"grantType": grant_type, "clientId": client_id, "clientSecret": secret}


async def test_a_registered_client_gets_a_bearer_token(client: Any, registered: tuple[str, str]) -> None:
    response = await client.post(LEGACY, json=body(*registered))
    assert 200 == response.status_code
    payload = response.json()
    assert {"code": 200000, "message": "success"} == {k: payload[k] for k in ("code", "message")}
    content = payload["content"]
    assert ("3600s", "bearer") == (content["expiresIn"], content["tokenType"])
    assert "no-store" == response.headers["cache-control"]
    claims = jwt.decode(content["accessToken"], options={"verify_signature": False})
    assert ("billing.apps", "billing.apps", "read write") == (claims["sub"], claims["client_id"], claims["scope"])


async def test_a_charset_parameter_and_unknown_fields_are_fine(client: Any, registered: tuple[str, str]) -> None:
    response = await client.post(
        LEGACY,
        json={**body(*registered), "extra": {"nested": [1, 2]}},
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert 200 == response.status_code


async def test_the_configured_lifetime_shows_in_expires_in(registered: tuple[str, str]) -> None:
    container = make_container(make_settings(HORUS_TOKEN_TTL="120"))
    async with AsyncTestClient(app=create_app(container)) as test_client:  # type: ignore[arg-type]
        created = await (await container.administration.async_()).create(client_id="svc")
        response = await test_client.post(LEGACY, json=body("svc", created.secret or ""))
    assert "120s" == response.json()["content"]["expiresIn"]


@pytest.mark.parametrize(
    ("payload", "code", "message"),
    [
        ({"grantType": "client_credentials", "clientSecret": "s"}, 400010, "clientId is required"),
        ({"grantType": "client_credentials", "clientId": None, "clientSecret": "s"}, 400010, "clientId is required"),
        ({"grantType": "client_credentials", "clientId": "", "clientSecret": "s"}, 400010, "clientId is required"),
        ({"grantType": "client_credentials", "clientId": 7, "clientSecret": "s"}, 400011, "clientId must be a string"),
        ({"grantType": "client_credentials", "clientId": "a"}, 400010, "clientSecret is required"),
        (
            {"grantType": "client_credentials", "clientId": "a", "clientSecret": ["s"]},
            400011,
            "clientSecret must be a string",
        ),
        ({"clientId": "a", "clientSecret": "s"}, 400010, "grantType is required"),
        (
            {"grantType": "password", "clientId": "a", "clientSecret": "s"},
            400020,
            "grantType must be client_credentials",
        ),
        (
            {"grantType": "client_credentials", "clientId": "a" * 257, "clientSecret": "s"},
            400012,
            "clientId must be at most 256 characters",
        ),
        (
            {"grantType": "client_credentials", "clientId": "a", "clientSecret": "s" * 1025},
            400012,
            "clientSecret must be at most 1024 characters",
        ),
    ],
)
async def test_bad_fields_get_400_naming_the_field(
    client: Any, payload: dict[str, Any], code: int, message: str
) -> None:
    response = await client.post(LEGACY, json=payload)
    assert (400, {"code": code, "message": message, "content": None}) == (response.status_code, response.json())


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"", 400001),
        (b"   ", 400001),
        (b"{", 400002),
        (b"not json", 400002),
        (b'{"clientId": "\xff"}', 400002),
        (b"[]", 400003),
        (b'"string"', 400003),
        (b"42", 400003),
        (b"null", 400003),
        (b'{"x":' + b"[" * 1000 + b"]" * 1000 + b"}", 400004),
        (b"[" * 100_00 + b"]" * 100_00, 413000),
    ],
)
async def test_bodies_that_are_not_a_json_object_get_400(client: Any, raw: bytes, code: int) -> None:
    response = await client.post(LEGACY, content=raw, headers=JSON)
    assert (code // 1000, code) == (response.status_code, response.json()["code"])
    assert response.json()["content"] is None


async def test_deep_nesting_inside_strings_is_not_counted(client: Any, registered: tuple[str, str]) -> None:
    response = await client.post(LEGACY, json={**body(*registered), "note": "[" * 5000})
    assert 200 == response.status_code


async def test_bodies_over_16_kib_get_413(client: Any) -> None:
    response = await client.post(LEGACY, content=b'{"a":"' + b"x" * 17000 + b'"}', headers=JSON)
    assert (413, 413000) == (response.status_code, response.json()["code"])


async def test_a_body_not_declared_as_json_gets_415(client: Any, registered: tuple[str, str]) -> None:
    for headers in ({"content-type": "text/plain"}, {"content-type": "application/x-www-form-urlencoded"}):
        response = await client.post(LEGACY, content=b'{"a": 1}', headers=headers)
        assert (415, 415000) == (response.status_code, response.json()["code"])


async def test_a_body_without_content_type_gets_415(client: Any) -> None:
    response = await client.post(LEGACY, content=b'{"a": 1}')
    assert (415, 415000) == (response.status_code, response.json()["code"])


@pytest.mark.parametrize("case", ["unknown", "wrong", "disabled", "wrong-generated", "legacy-shape"])
async def test_every_credential_failure_gets_the_same_401(
    client: Any, admin: Any, registered: tuple[str, str], case: str
) -> None:
    client_id, secret = registered
    administration = await admin()
    if case == "disabled":
        await administration.set_enabled(client_id, False)
    presented = {
        "unknown": ("nobody", secret),
        "wrong": (client_id, secret[:-2] + "zz"),
        "disabled": (client_id, secret),
        "wrong-generated": (client_id, "horus_sk_" + "A" * 49),
        "legacy-shape": (client_id, "b3209806-42da-402d-92dc-ab2f3ef8608b"),
    }[case]
    response = await client.post(LEGACY, json=body(*presented))
    assert 401 == response.status_code
    assert {"code": 401122, "message": "clientId or clientSecret are invalid", "content": None} == response.json()


async def test_an_imported_legacy_secret_works(client: Any, admin: Any) -> None:
    legacy_secret = "b3209806-42da-402d-92dc-ab2f3ef8608b"
    await (await admin()).create(
        client_id="6f7503fc-2cc1-4cf1-b45c-e50f324bf8ca.library.apps", imported_secret=legacy_secret
    )
    response = await client.post(LEGACY, json=body("6f7503fc-2cc1-4cf1-b45c-e50f324bf8ca.library.apps", legacy_secret))
    assert 200 == response.status_code


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", LEGACY, 405, 405000),
        ("PUT", LEGACY, 405, 405000),
        ("GET", "/nothing/here", 404, 404000),
        ("POST", "/.well-known/jwks.json", 405, 405000),
    ],
)
async def test_404_and_405_use_the_envelope(client: Any, method: str, path: str, status: int, code: int) -> None:
    response = await client.request(method, path)
    assert (status, code, None) == (response.status_code, response.json()["code"], response.json()["content"])
    assert re.fullmatch(r"[A-Za-z0-9]{16,}", response.headers["x-horus-request-id"])


async def test_every_kind_of_response_carries_exactly_one_request_id(client: Any, registered: tuple[str, str]) -> None:
    """The middleware appends the header without looking for one already there: nothing else may set it."""
    client_id, secret = registered
    basic = {"authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}
    form = {"content-type": "application/x-www-form-urlencoded"}
    exchanges = [
        ("POST", LEGACY, {"json": body(client_id, secret)}),
        ("POST", LEGACY, {"json": body(client_id, "wrong")}),
        ("POST", LEGACY, {"content": b"not json", "headers": JSON}),
        ("POST", LEGACY, {"content": b"x" * 20_000, "headers": JSON}),
        ("POST", LEGACY, {"content": b"a=b", "headers": form}),
        ("OPTIONS", LEGACY, {}),
        ("GET", LEGACY, {}),
        ("POST", "/v1/oauth/token", {"content": b"grant_type=client_credentials", "headers": {**form, **basic}}),
        ("POST", "/v1/oauth/token", {"content": b"grant_type=client_credentials", "headers": form}),
        ("POST", "/v1/oauth/introspect", {"content": b"token=x", "headers": {**form, **basic}}),
        ("GET", "/.well-known/jwks.json", {}),
        ("HEAD", "/.well-known/jwks.json", {}),
        ("GET", "/health", {}),
        ("GET", "/ready", {}),
        ("GET", "/metrics", {}),
        ("GET", "/nothing/here", {}),
    ]
    for method, path, options in exchanges:
        response = await client.request(method, path, **options)
        assert 1 == len(response.headers.get_list("x-horus-request-id")), (method, path, response.status_code)


@pytest.mark.parametrize("sent", ["abc-123", "A.b_c-9", "x" * 128])
async def test_a_valid_request_id_is_echoed(client: Any, sent: str) -> None:
    response = await client.post(LEGACY, json={}, headers={"x-horus-request-id": sent})
    assert sent == response.headers["x-horus-request-id"]


@pytest.mark.parametrize("sent", ["", "has space", "x" * 129, "semi;colon", "ünï"])
async def test_an_invalid_request_id_is_replaced(client: Any, sent: str) -> None:
    response = await client.post(
        LEGACY,
        json={},
        headers=[("x-horus-request-id", sent.encode("utf-8"))],  # type: ignore[list-item]
    )
    echoed = response.headers["x-horus-request-id"]
    assert sent != echoed
    assert re.fullmatch(r"[A-Za-z0-9]{16,}", echoed)


class FailingStorage(MemoryStorage):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    async def get(self, client_id: str, fresh: bool = False) -> None:
        raise self.error


async def _post_with_storage(storage: MemoryStorage) -> Any:
    container = make_container()
    container.storage.override(providers.Object(storage))
    async with AsyncTestClient(app=create_app(container)) as test_client:  # type: ignore[arg-type]
        return await test_client.post(LEGACY, json=body("svc", "b3209806-42da-402d-92dc-ab2f3ef8608b"))


async def test_an_unexpected_error_is_a_generic_500_without_details() -> None:
    response = await _post_with_storage(FailingStorage(RuntimeError("boom: internal detail")))
    assert (
        response.status_code,
        response.json(),
    ) == (500, {"code": 500000, "message": "internal error", "content": None})
    assert "boom" not in response.text


async def test_unreachable_storage_is_a_503() -> None:
    response = await _post_with_storage(FailingStorage(StorageUnavailable()))
    assert (503, 503001, None) == (response.status_code, response.json()["code"], response.json()["content"])
