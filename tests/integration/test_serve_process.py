"""A real `horus serve` process on SQLite, managed by the real `horus clients` command, seen only through HTTP."""

from __future__ import annotations

import base64
import json
import re
import signal
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.processes import (
    LEGACY_TOKEN_PATH,
    RunningServer,
    create_client,
    eventually,
    free_port,
    horus_env,
    run_horus,
    running_server,
)

pytestmark = pytest.mark.slow

REQUEST_ID = "x-horus-request-id"
GENERATED_REQUEST_ID = re.compile(r"[A-Za-z0-9]{16,}")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("serve")


@pytest.fixture(scope="module")
def env(workdir: Path) -> dict[str, str]:
    return horus_env(workdir)


@pytest.fixture(scope="module")
def server(env: dict[str, str], workdir: Path) -> Iterator[RunningServer]:
    """One server for the tests that only add clients of their own; a start costs about a second."""
    with running_server(env, workdir) as running:
        yield running


def access_token(response: httpx.Response) -> str:
    assert 200 == response.status_code, response.text
    token: str = response.json()["content"]["accessToken"]
    return token


def verified_with_jwks(server: RunningServer, token: str) -> dict[str, Any]:
    """What a resource server does: fetch the JWKS, pick the key by kid, check signature, iss, aud and exp."""
    signing_key = jwt.PyJWKClient(server.jwks_url).get_signing_key_from_jwt(token)
    claims: dict[str, Any] = jwt.decode(
        token, signing_key, algorithms=["ES256"], audience=server.issuer, issuer=server.issuer
    )
    return claims


def is_refused(response: httpx.Response) -> bool:
    return response.status_code == 401


def is_accepted(response: httpx.Response) -> bool:
    return response.status_code == 200


def accepted_within_five_seconds(server: RunningServer, client_id: str, secret: str) -> httpx.Response:
    """Changes reach the server within its client cache's lifetime; until then the request may fail.

    Polled slowly, because each failure counts towards the per-client throttle.
    """
    return eventually(lambda: server.request_token(client_id, secret), is_accepted, interval=0.5)


def assert_refused(response: httpx.Response) -> None:
    assert (401, 401122) == (response.status_code, response.json()["code"])


def log_lines_with(server: RunningServer, request_id: str) -> list[dict[str, Any]]:
    """The server's log lines for one request; the log is written by a background thread, so wait a little."""
    return eventually(
        lambda: [line for line in server.log_lines() if line.get("request_id") == request_id],
        lambda lines: any(line.get("logger") == "horus.access" for line in lines),
        timeout=3,
    )


def test_a_token_from_the_legacy_endpoint_verifies_with_nothing_but_the_jwks_url(
    server: RunningServer, env: dict[str, str], workdir: Path
) -> None:
    client_id, secret = create_client(env, workdir, "--scope", "read write")
    response = server.request_token(client_id, secret)
    token = access_token(response)
    assert ("3600s", "bearer") == (
        response.json()["content"]["expiresIn"],
        response.json()["content"]["tokenType"],
    )
    assert "at+jwt" == jwt.get_unverified_header(token)["typ"]
    claims = verified_with_jwks(server, token)
    assert (client_id, client_id, "read write", 3600) == (
        claims["sub"],
        claims["client_id"],
        claims["scope"],
        claims["exp"] - claims["iat"],
    )
    assert claims["jti"]
    assert abs(time.time() - claims["iat"]) < 60


def test_a_disabled_client_is_refused_within_five_seconds_and_served_again_once_enabled(
    server: RunningServer, env: dict[str, str], workdir: Path
) -> None:
    client_id, secret = create_client(env, workdir, "--scope", "read write")
    access_token(server.request_token(client_id, secret))

    assert 0 == run_horus(["clients", "disable", client_id], env, workdir).exit_code
    assert_refused(eventually(lambda: server.request_token(client_id, secret), is_refused))

    assert 0 == run_horus(["clients", "enable", client_id], env, workdir).exit_code
    verified_with_jwks(server, access_token(accepted_within_five_seconds(server, client_id, secret)))


def test_after_rotate_secret_the_old_secret_is_refused_within_five_seconds_and_the_new_one_works(
    server: RunningServer, env: dict[str, str], workdir: Path
) -> None:
    client_id, old_secret = create_client(env, workdir)
    access_token(server.request_token(client_id, old_secret))

    rotated = run_horus(["clients", "rotate-secret", "--json", client_id], env, workdir)
    assert 0 == rotated.exit_code, rotated.stderr
    new_secret = rotated.json()["clientSecret"]
    assert new_secret != old_secret

    assert_refused(eventually(lambda: server.request_token(client_id, old_secret), is_refused))
    verified_with_jwks(server, access_token(accepted_within_five_seconds(server, client_id, new_secret)))


def test_a_client_retrying_with_its_new_secret_right_after_rotation_is_served_within_five_seconds(
    tmp_path: Path,
) -> None:
    """A client that switches to its new secret at once and retries every 100 ms, as clients do."""
    env = horus_env(tmp_path)
    client_id, old_secret = create_client(env, tmp_path)
    with running_server(env, tmp_path) as own_server:
        access_token(own_server.request_token(client_id, old_secret))
        new_secret = run_horus(["clients", "rotate-secret", "--json", client_id], env, tmp_path).json()["clientSecret"]
        response = eventually(lambda: own_server.request_token(client_id, new_secret), is_accepted, interval=0.1)
    assert 200 == response.status_code, response.text


def test_a_deleted_client_is_refused(server: RunningServer, env: dict[str, str], workdir: Path) -> None:
    client_id, secret = create_client(env, workdir)
    access_token(server.request_token(client_id, secret))

    assert 0 == run_horus(["clients", "delete", client_id], env, workdir).exit_code
    assert_refused(eventually(lambda: server.request_token(client_id, secret), is_refused))


def test_a_token_issued_before_a_restart_verifies_with_the_jwks_after_it(tmp_path: Path) -> None:
    env = horus_env(tmp_path)
    client_id, secret = create_client(env, tmp_path)
    with running_server(env, tmp_path) as first:
        token = access_token(first.request_token(client_id, secret))
        port = first.port
        first.stop()
    with running_server(env, tmp_path, port=port) as second:
        claims = verified_with_jwks(second, token)
        assert client_id == claims["sub"]
        assert 1 == len(httpx.get(second.jwks_url).json()["keys"])  # the stored key, not a second one


def test_the_signing_key_is_stored_encrypted(server: RunningServer, env: dict[str, str], workdir: Path) -> None:
    client_id, secret = create_client(env, workdir)
    kid = jwt.get_unverified_header(access_token(server.request_token(client_id, secret)))["kid"]
    with closing(sqlite3.connect(workdir / "horus.db")) as db:
        [(stored_kid, encrypted)] = db.execute("SELECT kid, encrypted_private_key FROM signing_keys").fetchall()
    assert kid == stored_kid
    with pytest.raises(ValueError, match="Could not deserialize key data"):
        serialization.load_der_private_key(base64.b64decode(encrypted), password=None)


def test_sigterm_stops_the_server_with_exit_code_zero(tmp_path: Path) -> None:
    with running_server(horus_env(tmp_path), tmp_path) as server:
        started = time.monotonic()
        exit_code = server.stop(signal.SIGTERM, timeout=10)
        elapsed = time.monotonic() - started
    assert "Application shutdown complete." in [line["message"] for line in server.log_lines()]
    assert elapsed < 5
    assert 0 == exit_code


def test_a_valid_request_id_is_echoed_and_names_the_request_in_the_log(
    server: RunningServer, env: dict[str, str], workdir: Path
) -> None:
    client_id, secret = create_client(env, workdir)
    request_id = "caller-req.2026_11_28-0001"
    response = server.request_token(client_id, secret, headers={REQUEST_ID: request_id})
    assert request_id == response.headers[REQUEST_ID]
    [access] = [line for line in log_lines_with(server, request_id) if line["logger"] == "horus.access"]
    assert ("POST", LEGACY_TOKEN_PATH, 200, 200000, client_id) == (
        access["method"],
        access["path"],
        access["status"],
        access["code"],
        access["client_id"],
    )


@pytest.mark.parametrize("invalid", ["has spaces in it", "a" * 200, "semi;colon"], ids=["spaces", "200-chars", "punct"])
def test_an_invalid_request_id_is_replaced_by_a_generated_one_that_names_the_request_in_the_log(
    server: RunningServer, invalid: str
) -> None:
    response = httpx.post(server.base_url + LEGACY_TOKEN_PATH, json={}, headers={REQUEST_ID: invalid})
    replaced = response.headers[REQUEST_ID]
    assert GENERATED_REQUEST_ID.fullmatch(replaced), replaced
    assert [400] == [line["status"] for line in log_lines_with(server, replaced) if line["logger"] == "horus.access"]
    assert invalid not in server.log_text()


def test_every_response_carries_a_fresh_request_id(server: RunningServer) -> None:
    first = httpx.get(server.base_url + "/no/such/path").headers[REQUEST_ID]
    second = httpx.get(server.jwks_url).headers[REQUEST_ID]
    assert GENERATED_REQUEST_ID.fullmatch(first)
    assert GENERATED_REQUEST_ID.fullmatch(second)
    assert first != second


def test_the_server_log_is_json_lines_and_never_holds_a_secret_or_a_token(tmp_path: Path) -> None:
    env = horus_env(tmp_path)
    cli_stderr: list[str] = []
    created = run_horus(["clients", "create", "--json", "--scope", "read"], env, tmp_path)
    cli_stderr.append(created.stderr)
    client_id, secret = created.json()["clientId"], created.json()["clientSecret"]
    imported_secret = "legacy-imported-secret-7d1c0a"
    imported = run_horus(
        ["clients", "create", "--secret-stdin", "--client-id", "legacy"], env, tmp_path, imported_secret
    )
    cli_stderr.append(imported.stderr)
    with running_server(env, tmp_path) as server:
        tokens = [access_token(server.request_token(client_id, secret))]
        tokens.append(access_token(server.request_token("legacy", imported_secret)))
        assert_refused(server.request_token(client_id, secret + "x"))
        assert_refused(server.request_token("nobody", imported_secret))
        rotated = run_horus(["clients", "rotate-secret", client_id], env, tmp_path)
        cli_stderr.append(rotated.stderr)
        new_secret = rotated.stdout.split("clientSecret")[1].strip()
        tokens.append(access_token(accepted_within_five_seconds(server, client_id, new_secret)))
        assert_refused(server.request_token(client_id, secret))
        server.stop()
    log = server.log_text()
    assert [] == [line for line in log.splitlines() if not _is_json_object(line)]
    posts = [line for line in map(json.loads, log.splitlines()) if line.get("path") == LEGACY_TOKEN_PATH]
    assert 6 <= len(posts)  # the log did record the requests that carried the secrets
    everything_logged = log + "".join(cli_stderr)
    for sensitive in (secret, new_secret, imported_secret, *tokens):
        assert sensitive not in everything_logged
    for token in tokens:  # nor a token's claims or signature on their own
        assert all(part not in everything_logged for part in token.split(".")[1:])


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def test_hs256_tokens_verify_with_the_shared_secret_and_the_jwks_is_empty(tmp_path: Path) -> None:
    shared = "an-hs256-shared-secret-of-more-than-32-bytes"
    env = horus_env(tmp_path, HORUS_SIGNING_ALG="HS256", HORUS_SIGNING_SECRET=shared)
    client_id, secret = create_client(env, tmp_path, "--scope", "read write")
    with running_server(env, tmp_path) as server:
        token = access_token(server.request_token(client_id, secret))
        assert {"keys": []} == httpx.get(server.jwks_url).json()
        claims = jwt.decode(token, shared, algorithms=["HS256"], audience=server.issuer, issuer=server.issuer)
    assert ("HS256", "at+jwt") == (jwt.get_unverified_header(token)["alg"], jwt.get_unverified_header(token)["typ"])
    assert (client_id, "read write") == (claims["client_id"], claims["scope"])
    assert shared not in server.log_text()


def test_a_configured_pem_key_signs_and_is_the_only_key_in_the_jwks(tmp_path: Path) -> None:
    private_key = ec.generate_private_key(ec.SECP256R1())
    key_file = tmp_path / "signing.pem"
    key_file.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_file.chmod(0o600)
    env = horus_env(tmp_path, HORUS_SIGNING_KEY_FILE=str(key_file))
    client_id, secret = create_client(env, tmp_path)
    public_jwk = ECAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    expected_public = {name: public_jwk[name] for name in ("kty", "crv", "x", "y")}
    with running_server(env, tmp_path) as server:
        token = access_token(server.request_token(client_id, secret))
        [published] = httpx.get(server.jwks_url).json()["keys"]
        verified_via_jwks = verified_with_jwks(server, token)
    assert expected_public == {name: published[name] for name in ("kty", "crv", "x", "y")}
    assert {"d"}.isdisjoint(published)
    assert published["kid"] == jwt.get_unverified_header(token)["kid"]
    claims = jwt.decode(
        token, private_key.public_key(), algorithms=["ES256"], audience=server.issuer, issuer=server.issuer
    )
    assert client_id == claims["sub"] == verified_via_jwks["sub"]


def test_two_workers_issue_verifiable_tokens_and_share_one_failure_budget(tmp_path: Path) -> None:
    env = horus_env(tmp_path)
    client_id, secret = create_client(env, tmp_path)
    with running_server(env, tmp_path, options=("--workers", "2")) as server:
        started = eventually(
            lambda: [line for line in server.log_lines() if line["message"].startswith("Started server process")],
            lambda lines: len(lines) == 2,
        )
        assert 2 == len(started)
        # Each request on a new connection, which the kernel hands to either worker.
        for _ in range(6):
            assert client_id == verified_with_jwks(server, access_token(server.request_token(client_id, secret)))["sub"]
        statuses = [server.request_token(client_id, "wrong secret").status_code for _ in range(10)]
        assert [401] * 10 == statuses
        # The ten failures were counted in the shared storage: whichever worker answers, the budget is spent.
        assert [429] * 4 == [server.request_token(client_id, secret).status_code for _ in range(4)]
        assert 0 == server.stop()  # at once: the last access lines are still queued in the workers
        token_lines = [line for line in server.log_lines() if line.get("path") == LEGACY_TOKEN_PATH]
        assert 20 == len(token_lines)


@pytest.mark.parametrize(
    ("trusted", "expected"),
    [("", [401, 401, 401, 429]), ("127.0.0.1", [401, 401, 401, 401])],
    ids=["no trusted proxy: X-Forwarded-For is ignored", "loopback trusted: each forwarded address counts alone"],
)
def test_only_horus_trusted_proxies_decide_whether_x_forwarded_for_is_believed(
    tmp_path: Path, trusted: str, expected: list[int]
) -> None:
    """uvicorn would believe X-Forwarded-For from loopback by default; Horus turns that off and decides itself."""
    env = horus_env(tmp_path, HORUS_THROTTLE_ADDRESS_FAILURES="3", HORUS_TRUSTED_PROXIES=trusted)
    with running_server(env, tmp_path) as server:
        statuses = [
            server.request_token(f"nobody-{index}", "wrong", {"x-forwarded-for": f"198.51.100.{index}"}).status_code
            for index in range(4)
        ]
    assert expected == statuses


def request_counts(text: str, path: str) -> float:
    """horus_requests_total for one path, all methods and statuses added."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "horus_requests_total" and sample.labels["path"] == path
    )


def test_metrics_are_served_on_the_operator_listener_and_health_and_ready_on_both(server: RunningServer) -> None:
    """Issue 14: /metrics on the public port told anyone the live client ids."""
    assert 404 == httpx.get(server.base_url + "/metrics").status_code
    metrics = httpx.get(server.ops_url + "/metrics")
    assert (200, True) == (metrics.status_code, metrics.headers["content-type"].startswith("text/plain"))
    for base_url in (server.base_url, server.ops_url):
        assert [200, 200] == [httpx.get(base_url + path).status_code for path in ("/health", "/ready")]


def test_the_operator_listener_on_a_port_in_use_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_horus(
            ["serve", "--port", str(free_port())], horus_env(tmp_path, HORUS_OPS_PORT=str(port)), tmp_path
        )
    assert 2 == result.exit_code
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"horus: cannot start: cannot listen on 127.0.0.1:{port}")
    assert "HORUS_OPS_PORT" in line


def test_with_two_workers_the_metrics_count_the_requests_of_both(tmp_path: Path) -> None:
    """Issue 13: /metrics with --workers N reported the counters of whichever worker answered the scrape."""
    env = horus_env(tmp_path, TMPDIR=str(tmp_path))  # where `horus serve` keeps the workers' snapshots
    with running_server(env, tmp_path, options=("--workers", "2")) as server:
        sent = 0
        # Each request on a new connection, which the kernel hands to either worker; go on until both served some.
        while sent < 40 or (sent < 400 and sum(count > 0 for count in worker_health_counts(tmp_path)) < 2):
            with httpx.Client() as fresh:  # concurrent connections spread over the workers
                for _ in range(10):
                    assert 200 == fresh.get(server.base_url + "/health", headers={"connection": "close"}).status_code
            sent += 10
            time.sleep(0.2)
        assert [True, True] == [count > 0 for count in worker_health_counts(tmp_path)]
        scrapes = eventually(
            lambda: [request_counts(httpx.get(server.ops_url + "/metrics").text, "/health") for _ in range(10)],
            lambda counts: counts == [sent] * 10,
        )
    assert [sent] * 10 == scrapes


def worker_health_counts(directory: Path) -> list[int]:
    """What each worker published so far: requests to /health (how the kernel spread them)."""
    return [
        sum(count for path, _, _, count in json.loads(snapshot.read_text())["requests"] if path == "/health")
        for snapshot in directory.glob("horus-metrics-*/*.metrics.json")
    ]


def test_an_operator_listener_on_every_address_is_served_with_a_warning(tmp_path: Path) -> None:
    with running_server(horus_env(tmp_path, HORUS_OPS_HOST="0.0.0.0"), tmp_path) as server:
        assert 200 == httpx.get(server.ops_url + "/metrics").status_code
        warnings = [line["message"] for line in server.log_lines() if line["level"] == "warning"]
    assert ["the operator endpoints (/metrics) are reachable on every address (HORUS_OPS_HOST)"] == warnings
