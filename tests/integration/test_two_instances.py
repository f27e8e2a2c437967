"""Two `horus serve` processes sharing one PostgreSQL database: one service, whichever instance answers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.integration.postgresql_databases import CuttableThreadedProxy, database_for_processes, database_url
from tests.integration.processes import (
    RunningServer,
    create_client,
    eventually,
    horus_env,
    run_horus,
    running_server,
)

pytestmark = pytest.mark.slow
LEAD_SECONDS = 8  # more than the 5 s key refresh plus the resource server cache below


@pytest.fixture
def database() -> Iterator[str]:
    with database_for_processes() as name:
        yield name


def shared_env(tmp_path: Path, database: str, port: int | None = None, **extra: str) -> dict[str, str]:
    """`port`: reach the test server through a proxy listening there."""
    return horus_env(
        tmp_path,
        HORUS_STORAGE=database_url(database, port),
        HORUS_SECRET_KEY="shared-server-key-for-all-instances-0123456789",
        HORUS_ISSUER="https://horus.test",
        HORUS_KEY_ROTATION_LEAD=str(LEAD_SECONDS),
        **extra,
    )


def token_from(server: RunningServer, client_id: str, secret: str) -> str:
    response = server.request_token(client_id, secret)
    assert 200 == response.status_code, response.text
    return str(response.json()["content"]["accessToken"])


def verify_with(server: RunningServer, token: str) -> dict[str, Any]:
    key = jwt.PyJWKClient(server.jwks_url, cache_keys=False).get_signing_key_from_jwt(token)
    return jwt.decode(token, key, algorithms=["ES256"], audience="https://horus.test", issuer="https://horus.test")


def test_two_instances_are_one_service(tmp_path: Path, database: str) -> None:
    env = shared_env(tmp_path, database)
    client_id, secret = create_client(env, tmp_path, "--scope", "read")
    with (
        running_server(env, tmp_path, stderr_path=tmp_path / "a.log") as a,
        running_server(env, tmp_path, stderr_path=tmp_path / "b.log") as b,
    ):
        assert client_id == verify_with(b, token_from(a, client_id, secret))["client_id"]
        assert client_id == verify_with(a, token_from(b, client_id, secret))["client_id"]
        assert httpx.get(a.jwks_url).json() == httpx.get(b.jwks_url).json()

        assert 0 == run_horus(["clients", "disable", client_id], env, tmp_path).exit_code
        started = time.monotonic()
        for server in (a, b):
            refused = eventually(lambda s=server: s.request_token(client_id, secret), lambda r: r.status_code == 401)
            assert 401 == refused.status_code
        assert time.monotonic() - started < 5


def test_a_rotation_under_load_rejects_no_token_at_a_caching_resource_server(tmp_path: Path, database: str) -> None:
    env = shared_env(tmp_path, database)
    client_id, secret = create_client(env, tmp_path)
    with (
        running_server(env, tmp_path, stderr_path=tmp_path / "a.log") as a,
        running_server(env, tmp_path, stderr_path=tmp_path / "b.log") as b,
    ):
        old_kid = jwt.get_unverified_header(token_from(a, client_id, secret))["kid"]
        stop = threading.Event()
        outcomes: list[tuple[str, str]] = []

        class CachingResourceServer:
            """Refetches the JWKS only when its copy is older than cache_seconds (< the lead time)."""

            def __init__(self, jwks_url: str, cache_seconds: float) -> None:
                self.url, self.cache_seconds, self.fetched_at, self.keys = jwks_url, cache_seconds, 0.0, {}

            def verify(self, token: str) -> str:
                if time.monotonic() - self.fetched_at > self.cache_seconds:
                    self.keys = {key["kid"]: jwt.PyJWK(key) for key in httpx.get(self.url).json()["keys"]}
                    self.fetched_at = time.monotonic()
                kid = jwt.get_unverified_header(token)["kid"]
                if kid not in self.keys:
                    return "unknown kid"
                jwt.decode(token, self.keys[kid], algorithms=["ES256"], audience="https://horus.test")
                return kid

        def load() -> None:
            resource_server = CachingResourceServer(b.jwks_url, cache_seconds=2)
            instances = [a, b]
            index = 0
            while not stop.is_set():
                response = instances[index % 2].request_token(client_id, secret)
                index += 1
                if response.status_code != 200:
                    outcomes.append(("http", str(response.status_code)))
                    continue
                outcomes.append(("ok", resource_server.verify(response.json()["content"]["accessToken"])))

        worker = threading.Thread(target=load)
        worker.start()
        try:
            time.sleep(1)
            rotated = run_horus(["keys", "rotate", "--json"], env, tmp_path)
            assert 0 == rotated.exit_code, rotated.stderr
            new_kid = rotated.json()["kid"]
            deadline = time.monotonic() + LEAD_SECONDS + 15
            while time.monotonic() < deadline and not any(kid == new_kid for _, kid in outcomes[-20:]):
                time.sleep(0.2)
            time.sleep(1)
        finally:
            stop.set()
            worker.join(30)
        failures = [outcome for outcome in outcomes if outcome[0] != "ok" or outcome[1] == "unknown kid"]
        assert [] == failures
        kids_seen = [kid for _, kid in outcomes]
        assert old_kid == kids_seen[0]
        assert new_kid == kids_seen[-1]
        # Both instances switched: the last tokens of each are signed with the new key.
        for server in (a, b):
            assert new_kid == jwt.get_unverified_header(token_from(server, client_id, secret))["kid"]


def test_a_revoked_key_leaves_both_instances_within_the_refresh_and_a_new_key_signs(
    tmp_path: Path, database: str
) -> None:
    env = shared_env(tmp_path, database)
    client_id, secret = create_client(env, tmp_path)

    def introspected(server: RunningServer, token: str) -> dict[str, Any]:
        response = httpx.post(
            server.base_url + "/v1/oauth/introspect", auth=(client_id, secret), data={"token": token}, timeout=10
        )
        assert 200 == response.status_code, response.text
        return dict(response.json())

    with (
        running_server(env, tmp_path, stderr_path=tmp_path / "a.log") as a,
        running_server(env, tmp_path, stderr_path=tmp_path / "b.log") as b,
    ):
        leaked = token_from(a, client_id, secret)
        old_kid = jwt.get_unverified_header(leaked)["kid"]
        assert introspected(b, leaked)["active"]

        revoked = run_horus(["keys", "revoke", old_kid, "--json"], env, tmp_path)
        assert 0 == revoked.exit_code, revoked.stderr
        new_kid = revoked.json()["replacementKid"]
        assert new_kid not in (None, old_kid)
        [audit] = [json.loads(line) for line in revoked.stderr.splitlines() if '"horus.audit"' in line]
        assert ("key revoked", old_kid, new_kid) == (audit["action"], audit["kid"], audit["replacement_kid"])
        started = time.monotonic()
        for server in (a, b):
            jwks = eventually(
                lambda s=server: httpx.get(s.jwks_url).json(),
                lambda keys: old_kid not in [key["kid"] for key in keys["keys"]],
                timeout=10,
                interval=0.2,
            )
            assert [new_kid] == [key["kid"] for key in jwks["keys"]]
        assert time.monotonic() - started < 8  # the 5 s key refresh, plus a reload on a busy machine
        for server in (a, b):
            assert {"active": False} == introspected(server, leaked)
            fresh = token_from(server, client_id, secret)
            assert new_kid == jwt.get_unverified_header(fresh)["kid"]
            assert client_id == verify_with(server, fresh)["client_id"]

        again = run_horus(["keys", "revoke", old_kid, "--json"], env, tmp_path)
        assert (0, True, None) == (again.exit_code, again.json()["alreadyOut"], again.json()["replacementKid"])
        unknown = run_horus(["keys", "revoke", "no-such-kid"], env, tmp_path)
        assert (1, "horus: no signing key 'no-such-kid'; `horus keys list` shows them\n") == (
            unknown.exit_code,
            unknown.stderr,
        )


def test_the_service_fails_closed_and_recovers_when_the_database_goes_away(tmp_path: Path, database: str) -> None:
    proxy = CuttableThreadedProxy()
    try:
        env = shared_env(tmp_path, database, port=proxy.port)
        client_id, secret = create_client(env, tmp_path)
        with running_server(env, tmp_path) as server:
            assert 200 == server.request_token(client_id, secret).status_code
            proxy.cut()
            down = eventually(lambda: server.request_token(client_id, secret), lambda r: r.status_code == 503, 15)
            assert (503, 503001) == (down.status_code, down.json()["code"])
            standard = httpx.post(
                server.base_url + "/v1/oauth/token",
                auth=(client_id, secret),
                data={"grant_type": "client_credentials"},
                timeout=15,
            )
            assert (503, "temporarily_unavailable") == (standard.status_code, standard.json()["error"])
            assert 503 == httpx.get(server.base_url + "/ready", timeout=15).status_code
            assert 200 == httpx.get(server.base_url + "/health").status_code
            proxy.restore()
            back = eventually(lambda: server.request_token(client_id, secret), lambda r: r.status_code == 200, 20)
            assert 200 == back.status_code
            assert 200 == httpx.get(server.base_url + "/ready", timeout=15).status_code
    finally:
        proxy.close()
