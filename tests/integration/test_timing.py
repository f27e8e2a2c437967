"""Unknown client, wrong secret and disabled client cannot be told apart by response time."""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.processes import create_client, horus_env, run_horus, running_server

pytestmark = pytest.mark.slow
SAMPLES_PER_CASE = 1500
LEGACY = "/v1/nonspec/oauth2/auth/server"


def test_failure_cases_have_the_same_response_time(tmp_path: Path) -> None:
    env = horus_env(
        tmp_path,
        HORUS_THROTTLE_CLIENT_FAILURES="1000000",
        HORUS_THROTTLE_CLIENT_GLOBAL_FAILURES="1000000",
        HORUS_THROTTLE_ADDRESS_FAILURES="1000000",
        HORUS_LOG_LEVEL="WARNING",
    )
    victim_id, _ = create_client(env, tmp_path, "--client-id", "victim")
    _, other_secret = create_client(env, tmp_path, "--client-id", "other")
    disabled_id, disabled_secret = create_client(env, tmp_path, "--client-id", "disabled")
    assert 0 == run_horus(["clients", "disable", disabled_id], env, tmp_path).exit_code
    cases = {
        "unknown client": ("no-such-client", other_secret),
        "wrong secret": (victim_id, other_secret),
        "disabled client": (disabled_id, disabled_secret),
    }
    bodies = {
        name: httpx.Request(
            "POST", "http://x", json={"grantType": "client_credentials", "clientId": client_id, "clientSecret": secret}
        ).read()
        for name, (client_id, secret) in cases.items()
    }
    order = [name for name in cases for _ in range(SAMPLES_PER_CASE)]
    random.Random(7).shuffle(order)
    timings: dict[str, list[float]] = {name: [] for name in cases}
    with running_server(env, tmp_path) as server, httpx.Client(base_url=server.base_url) as client:
        headers = {"content-type": "application/json"}
        for name in list(cases) * 50:  # warm-up: caches, connections, code paths
            client.post(LEGACY, content=bodies[name], headers=headers)
        for name in order:
            started = time.perf_counter()
            response = client.post(LEGACY, content=bodies[name], headers=headers)
            timings[name].append(time.perf_counter() - started)
            assert 401 == response.status_code
    medians = {name: statistics.median(samples) for name, samples in timings.items()}
    print("medians (ms):", {name: round(value * 1000, 4) for name, value in medians.items()})
    spread = (max(medians.values()) - min(medians.values())) / min(medians.values())
    assert spread < 0.05, f"medians differ by {spread:.1%}: {medians}"
