"""Old tokens do not come back: a real `horus serve`, changed through the real CLI, answers introspection.

After rotate-secret (unless --keep-tokens), a disable then an enable, or a delete then a create
with the same id, a token issued before is inactive at introspection (issue 14 item 10).
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.integration.processes import RunningServer, create_client, horus_env, run_horus, running_server

pytestmark = pytest.mark.slow

CHANGES = {
    "rotate-secret": [["clients", "rotate-secret", "svc"]],
    "disable, enable": [["clients", "disable", "svc"], ["clients", "enable", "svc"]],
    "delete, create": [["clients", "delete", "svc"], ["clients", "create", "--client-id", "svc"]],
    "rotate-secret --keep-tokens": [["clients", "rotate-secret", "svc", "--keep-tokens"]],
}


def introspected(server: RunningServer, resource_server: tuple[str, str], token: str) -> bool:
    response = httpx.post(
        server.base_url + "/v1/oauth/introspect", auth=resource_server, data={"token": token}, timeout=10
    )
    assert 200 == response.status_code, response.text
    return bool(response.json()["active"])


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_token_issued_before_a_client_change_is_active_again_only_with_keep_tokens(
    tmp_path: Path, change: str
) -> None:
    env = horus_env(tmp_path, HORUS_SECRET_KEY="k" * 40, HORUS_CLIENT_CACHE_TTL="0")  # every change seen at once
    _, secret = create_client(env, tmp_path, "--client-id", "svc")
    resource_server = create_client(env, tmp_path, "--client-id", "resource-server")
    with running_server(env, tmp_path) as server:
        response = server.request_token("svc", secret)
        assert 200 == response.status_code, response.text
        token = response.json()["content"]["accessToken"]
        assert True is introspected(server, resource_server, token)
        # A token from the very second of a re-creation would count as the new client's (iat is whole seconds).
        time.sleep(1)
        for command in CHANGES[change]:
            result = run_horus(command, env, tmp_path)
            assert 0 == result.exit_code, result.stderr
        assert (change == "rotate-secret --keep-tokens") is introspected(server, resource_server, token)
