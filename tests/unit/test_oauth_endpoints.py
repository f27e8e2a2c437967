"""The standard endpoints through the real app: token (RFC 6749), introspection (RFC 7662), revocation (RFC 7009)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote_plus

import jwt
import pytest

TOKEN = "/v1/oauth/token"
INTROSPECT = "/v1/oauth/introspect"
REVOKE = "/v1/oauth/revoke"
FORM = {"content-type": "application/x-www-form-urlencoded"}


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"authorization": "Basic " + base64.b64encode(raw).decode()}


@pytest.fixture
async def svc(admin: Any) -> tuple[str, str]:
    created = await (await admin()).create(client_id="svc", scope="read write")
    return "svc", created.secret


@pytest.fixture
async def other(admin: Any) -> tuple[str, str]:
    created = await (await admin()).create(client_id="other")
    return "other", created.secret


async def token_for(client: Any, credentials: tuple[str, str], **form: str) -> str:
    response = await client.post(TOKEN, data={"grant_type": "client_credentials", **form}, headers=basic(*credentials))
    assert 200 == response.status_code, response.text
    return response.json()["access_token"]


async def test_client_secret_basic_gets_a_token(client: Any, svc: tuple[str, str]) -> None:
    response = await client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=basic(*svc))
    assert 200 == response.status_code
    payload = response.json()
    assert ("Bearer", 3600, "read write") == (payload["token_type"], payload["expires_in"], payload["scope"])
    assert ("no-store", "no-cache") == (response.headers["cache-control"], response.headers["pragma"])
    header = jwt.get_unverified_header(payload["access_token"])
    assert "at+jwt" == header["typ"]


async def test_client_secret_post_gets_a_token(client: Any, svc: tuple[str, str]) -> None:
    response = await client.post(
        TOKEN, data={"grant_type": "client_credentials", "client_id": svc[0], "client_secret": svc[1]}
    )
    assert 200 == response.status_code


async def test_basic_credentials_are_form_urlencoded_before_base64(client: Any, admin: Any) -> None:
    created = await (await admin()).create(client_id="legacy", imported_secret="p@ss:wörd+/ &=")
    del created
    response = await client.post(
        TOKEN, data={"grant_type": "client_credentials"}, headers=basic("legacy", "p@ss:wörd+/ &=")
    )
    assert 200 == response.status_code


async def test_a_subset_of_scopes_can_be_requested(client: Any, svc: tuple[str, str]) -> None:
    token = await token_for(client, svc, scope="read")
    assert "read" == jwt.decode(token, options={"verify_signature": False})["scope"]


async def test_an_empty_scope_counts_as_absent(client: Any, svc: tuple[str, str]) -> None:
    response = await client.post(
        TOKEN, content=b"grant_type=client_credentials&scope=", headers={**FORM, **basic(*svc)}
    )
    assert "read write" == response.json()["scope"]


async def test_a_client_without_scopes_gets_no_scope(client: Any, other: tuple[str, str]) -> None:
    response = await client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=basic(*other))
    assert "scope" not in response.json()


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"grant_type": "client_credentials", "scope": "admin"}, 400, "invalid_scope"),
        ({"grant_type": "client_credentials", "scope": "read admin"}, 400, "invalid_scope"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"grant_type": "authorization_code"}, 400, "unsupported_grant_type"),
        ({}, 400, "invalid_request"),
    ],
)
async def test_token_request_errors(
    client: Any, svc: tuple[str, str], form: dict[str, str], status: int, error: str
) -> None:
    response = await client.post(TOKEN, data=form, headers=basic(*svc))
    assert (status, error) == (response.status_code, response.json()["error"])
    assert "error_description" in response.json()


async def test_a_repeated_parameter_is_invalid(client: Any, svc: tuple[str, str]) -> None:
    body = b"grant_type=client_credentials&grant_type=client_credentials"
    response = await client.post(TOKEN, content=body, headers={**FORM, **basic(*svc)})
    assert (400, "invalid_request") == (response.status_code, response.json()["error"])


async def test_unknown_parameters_are_ignored(client: Any, svc: tuple[str, str]) -> None:
    await token_for(client, svc, audience="x", resource="y")


async def test_both_authentication_methods_at_once_is_invalid_request(client: Any, svc: tuple[str, str]) -> None:
    response = await client.post(
        TOKEN,
        data={"grant_type": "client_credentials", "client_id": svc[0], "client_secret": svc[1]},
        headers=basic(*svc),
    )
    assert (400, "invalid_request") == (response.status_code, response.json()["error"])


async def test_no_client_authentication_is_invalid_client_with_a_challenge(client: Any) -> None:
    """RFC 9110 15.5.2: every 401 carries a challenge, whether or not Basic was tried."""
    response = await client.post(TOKEN, data={"grant_type": "client_credentials"})
    assert (401, "invalid_client") == (response.status_code, response.json()["error"])
    assert 'Basic realm="horus", charset="UTF-8"' == response.headers["www-authenticate"]


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic !!!notbase64",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Bearer abc",
        "Basic",
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
        "Basic " + base64.b64encode(b"svc:%ZZ").decode(),
    ],
)
async def test_malformed_basic_is_invalid_client_with_a_challenge(client: Any, authorization: str) -> None:
    response = await client.post(
        TOKEN, data={"grant_type": "client_credentials"}, headers={"authorization": authorization}
    )
    assert (401, "invalid_client") == (response.status_code, response.json()["error"])
    assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize("case", ["unknown", "wrong", "disabled"])
async def test_credential_failures_look_alike(client: Any, admin: Any, svc: tuple[str, str], case: str) -> None:
    if case == "disabled":
        await (await admin()).set_enabled("svc", False)
    credentials = {"unknown": ("nobody", svc[1]), "wrong": ("svc", svc[1][:-3] + "abc"), "disabled": svc}[case]
    response = await client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=basic(*credentials))
    assert (401, {"error": "invalid_client", "error_description": "client authentication failed"}) == (
        response.status_code,
        response.json(),
    )


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b'{"grant_type":"client_credentials"}', {"content-type": "application/json"}, 400),
        (b"grant_type=client_credentials", {}, 400),
        (b"a=" + b"x" * 20000, FORM, 413),
        (b"&".join(b"f%d=1" % i for i in range(100)), FORM, 400),
        (b"grant_type=%FF", FORM, 400),
        (b"\xff\xfe", FORM, 400),
    ],
)
async def test_bad_bodies_are_invalid_request(
    client: Any, content: bytes, headers: dict[str, str], status: int
) -> None:
    response = await client.post(TOKEN, content=content, headers=headers)
    assert (status, "invalid_request") == (response.status_code, response.json()["error"])
    assert response.headers["x-horus-request-id"]


async def test_the_same_token_serves_both_endpoints(client: Any, svc: tuple[str, str]) -> None:
    standard = await token_for(client, svc)
    legacy = await client.post(
        "/v1/nonspec/oauth2/auth/server",
        json={"grantType": "client_credentials", "clientId": svc[0], "clientSecret": svc[1]},
    )
    claims = [
        jwt.decode(t, options={"verify_signature": False}) for t in (standard, legacy.json()["content"]["accessToken"])
    ]
    assert {k for k in claims[0] if k != "jti"} == {k for k in claims[1] if k != "jti"}


async def test_introspection_describes_an_active_token(
    client: Any, svc: tuple[str, str], other: tuple[str, str]
) -> None:
    token = await token_for(client, svc)
    response = await client.post(INTROSPECT, data={"token": token}, headers=basic(*other))
    payload = response.json()
    claims = jwt.decode(token, options={"verify_signature": False})
    expected = {
        "active": True,
        "client_id": "svc",
        "sub": "svc",
        "scope": "read write",
        "exp": claims["exp"],
        "iat": claims["iat"],
        "iss": claims["iss"],
        "aud": claims["aud"],
        "jti": claims["jti"],
        "token_type": "Bearer",
    }
    assert (200, expected) == (response.status_code, payload)


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "x" * 8000])
async def test_introspection_of_garbage_is_inactive(client: Any, other: tuple[str, str], token: str) -> None:
    response = await client.post(INTROSPECT, data={"token": token}, headers=basic(*other))
    assert (200, {"active": False}) == (response.status_code, response.json())


async def test_introspection_requires_client_authentication(client: Any, svc: tuple[str, str]) -> None:
    token = await token_for(client, svc)
    response = await client.post(INTROSPECT, data={"token": token})
    assert (401, "invalid_client") == (response.status_code, response.json()["error"])
    response = await client.post(INTROSPECT, data={"token": token}, headers=basic("svc", "wrong"))
    assert (401, "invalid_client") == (response.status_code, response.json()["error"])


async def test_introspection_without_a_token_is_invalid_request(client: Any, svc: tuple[str, str]) -> None:
    response = await client.post(INTROSPECT, data={}, headers=basic(*svc))
    assert (400, "invalid_request") == (response.status_code, response.json()["error"])


@pytest.mark.parametrize("change", ["disable", "delete"])
async def test_tokens_of_disabled_or_deleted_clients_are_inactive(
    client: Any, admin: Any, svc: tuple[str, str], other: tuple[str, str], change: str
) -> None:
    token = await token_for(client, svc)
    administration = await admin()
    await (administration.set_enabled("svc", False) if change == "disable" else administration.delete("svc"))
    response = await client.post(INTROSPECT, data={"token": token}, headers=basic(*other))
    assert {"active": False} == response.json()


async def test_a_client_revokes_its_own_token(client: Any, svc: tuple[str, str], other: tuple[str, str]) -> None:
    token = await token_for(client, svc)
    revoked = await client.post(REVOKE, data={"token": token, "token_type_hint": "access_token"}, headers=basic(*svc))
    assert 200 == revoked.status_code
    response = await client.post(INTROSPECT, data={"token": token}, headers=basic(*other))
    assert {"active": False} == response.json()
    again = await client.post(REVOKE, data={"token": token}, headers=basic(*svc))
    assert 200 == again.status_code


async def test_a_client_cannot_revoke_another_clients_token(
    client: Any, svc: tuple[str, str], other: tuple[str, str]
) -> None:
    token = await token_for(client, svc)
    response = await client.post(REVOKE, data={"token": token}, headers=basic(*other))
    assert (400, "unauthorized_client") == (response.status_code, response.json()["error"])
    still = await client.post(INTROSPECT, data={"token": token}, headers=basic(*other))
    assert still.json()["active"] is True


async def test_revoking_an_unknown_token_is_fine(client: Any, svc: tuple[str, str]) -> None:
    response = await client.post(REVOKE, data={"token": "not-a-token"}, headers=basic(*svc))
    assert 200 == response.status_code


async def test_revocation_requires_client_authentication(client: Any, svc: tuple[str, str]) -> None:
    token = await token_for(client, svc)
    response = await client.post(REVOKE, data={"token": token})
    assert (401, "invalid_client") == (response.status_code, response.json()["error"])


async def test_the_metadata_document(client: Any, svc: tuple[str, str], other: tuple[str, str]) -> None:
    response = await client.get("/.well-known/oauth-authorization-server")
    issuer = "http://127.0.0.1:8080"
    methods = ["client_secret_basic", "client_secret_post"]
    expected = {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/v1/oauth/token",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": methods,
        "introspection_endpoint": f"{issuer}/v1/oauth/introspect",
        "introspection_endpoint_auth_methods_supported": methods,
        "revocation_endpoint": f"{issuer}/v1/oauth/revoke",
        "revocation_endpoint_auth_methods_supported": methods,
    }
    assert (200, expected) == (response.status_code, response.json())


async def test_storage_outage_is_temporarily_unavailable() -> None:
    from dependency_injector import providers
    from litestar.testing import AsyncTestClient

    from horus.app import create_app
    from horus.domain.errors import StorageUnavailable
    from tests.conftest import make_container
    from tests.unit.test_legacy_endpoint import FailingStorage

    container = make_container()
    container.storage.override(providers.Object(FailingStorage(StorageUnavailable())))
    async with AsyncTestClient(app=create_app(container)) as test_client:  # type: ignore[arg-type]
        response = await test_client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=basic("a", "b"))
    assert (503, "temporarily_unavailable") == (response.status_code, response.json()["error"])
