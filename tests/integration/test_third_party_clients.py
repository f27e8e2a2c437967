"""Real OAuth 2.0 client libraries nobody here wrote, against a live `horus serve`, verified through the metadata."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session as OAuth2Client
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session

from tests.integration.processes import RunningServer, create_client, horus_env, running_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, str, str]]:
    directory: Path = tmp_path_factory.mktemp("third-party")
    env = horus_env(directory)
    client_id, secret = create_client(env, directory, "--scope", "invoices:read invoices:write")
    with running_server(env, directory) as running:
        yield running, client_id, secret


def verify_through_metadata(server: RunningServer, token: str) -> dict[str, object]:
    metadata = httpx.get(server.base_url + "/.well-known/oauth-authorization-server", timeout=5).json()
    signing_key = jwt.PyJWKClient(metadata["jwks_uri"]).get_signing_key_from_jwt(token)
    return jwt.decode(token, signing_key, algorithms=["ES256"], audience=metadata["issuer"], issuer=metadata["issuer"])


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_authlib_gets_a_token(server: tuple[RunningServer, str, str], method: str) -> None:
    running, client_id, secret = server
    with OAuth2Client(client_id, secret, token_endpoint_auth_method=method) as client:
        token = client.fetch_token(running.base_url + "/v1/oauth/token", grant_type="client_credentials")
    assert ("Bearer", 3600, "invoices:read invoices:write") == (
        token["token_type"],
        token["expires_in"],
        token["scope"],
    )
    claims = verify_through_metadata(running, token["access_token"])
    assert (client_id, client_id) == (claims["sub"], claims["client_id"])


def test_authlib_asks_for_a_narrower_scope(server: tuple[RunningServer, str, str]) -> None:
    running, client_id, secret = server
    with OAuth2Client(client_id, secret, scope="invoices:read") as client:
        token = client.fetch_token(running.base_url + "/v1/oauth/token", grant_type="client_credentials")
    assert "invoices:read" == verify_through_metadata(running, token["access_token"])["scope"]


def test_requests_oauthlib_backend_application_client(
    server: tuple[RunningServer, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # plain http, on loopback only
    running, client_id, secret = server
    session = OAuth2Session(client=BackendApplicationClient(client_id=client_id))
    token = session.fetch_token(
        token_url=running.base_url + "/v1/oauth/token", client_id=client_id, client_secret=secret
    )
    claims = verify_through_metadata(running, token["access_token"])
    assert client_id == claims["client_id"]


def test_a_standard_client_with_a_wrong_secret_gets_invalid_client(server: tuple[RunningServer, str, str]) -> None:
    running, client_id, _ = server

    with OAuth2Client(client_id, "horus_sk_wrong") as client, pytest.raises(OAuthError, match="invalid_client"):
        client.fetch_token(running.base_url + "/v1/oauth/token", grant_type="client_credentials")


def test_introspection_and_revocation_with_authlib(server: tuple[RunningServer, str, str]) -> None:
    running, client_id, secret = server
    with OAuth2Client(client_id, secret) as client:
        token = client.fetch_token(running.base_url + "/v1/oauth/token", grant_type="client_credentials")
        access_token = token["access_token"]
        introspected = client.introspect_token(running.base_url + "/v1/oauth/introspect", token=access_token)
        assert (True, client_id) == (introspected.json()["active"], introspected.json()["client_id"])
        revoked = client.revoke_token(running.base_url + "/v1/oauth/revoke", token=access_token)
        assert 200 == revoked.status_code
        after = client.introspect_token(running.base_url + "/v1/oauth/introspect", token=access_token)
        assert {"active": False} == after.json()
