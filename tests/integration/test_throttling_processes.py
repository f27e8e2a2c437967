"""The brute-force budget against real `horus serve` processes, in each deployment shape (issue 18): one process,
`--workers 4` on SQLite, two instances on one PostgreSQL database."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from horus.domain.client_secret import format_generated_secret
from tests.integration.deployments import SHAPES, Deployment, deployment
from tests.integration.processes import create_client

pytestmark = pytest.mark.slow
LEGACY = "/v1/nonspec/oauth2/auth/server"
TOKEN = "/v1/oauth/token"


def guess(client_id: str, index: int) -> dict[str, str]:
    """A wrong, well-formed secret: verified (401) unless throttled (429)."""
    secret = format_generated_secret(index.to_bytes(32, "big"))
    return {"grantType": "client_credentials", "clientId": client_id, "clientSecret": secret}


async def burst(
    urls: list[str], bodies: list[dict[str, str]], headers: list[dict[str, str]] | None = None
) -> Counter[int]:
    """Sends every body at once, spread over the urls, each on a connection of its own; counts the statuses."""
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        responses = await asyncio.gather(
            *(
                client.post(urls[index % len(urls)] + LEGACY, json=body, headers=(headers or [{}] * len(bodies))[index])
                for index, body in enumerate(bodies)
            )
        )
    return Counter(response.status_code for response in responses)


@pytest.fixture(params=SHAPES)
def shape(request: pytest.FixtureRequest) -> str:
    shape: str = request.param
    return shape


@pytest.fixture
def running(shape: str, tmp_path: Path) -> Iterator[Deployment]:
    with deployment(shape, tmp_path, HORUS_THROTTLE_ADDRESS_FAILURES="1000000") as running:
        yield running


def test_a_burst_of_guesses_for_one_client_passes_its_limit_by_at_most_one_per_other_process(
    running: Deployment,
) -> None:
    statuses = asyncio.run(burst(running.urls, [guess("victim", index) for index in range(200)]))
    verified = statuses[401]
    assert 10 <= verified <= 10 + running.processes - 1, statuses
    assert 200 == verified + statuses[429]


def test_a_burst_over_many_client_ids_passes_the_address_limit_by_at_most_one_per_other_process(
    shape: str, tmp_path: Path
) -> None:
    with deployment(shape, tmp_path, HORUS_THROTTLE_ADDRESS_FAILURES="30") as running:
        statuses = asyncio.run(burst(running.urls, [guess(f"id-{index}", index) for index in range(300)]))
    verified = statuses[401]
    assert 30 <= verified <= 30 + running.processes - 1, statuses


def test_sustained_guessing_is_held_to_the_limit_per_window(shape: str, tmp_path: Path) -> None:
    window, limit, duration = 2, 5, 6.0
    settings = {"HORUS_THROTTLE_WINDOW": str(window), "HORUS_THROTTLE_CLIENT_FAILURES": str(limit)}
    with deployment(shape, tmp_path, **settings) as running, httpx.Client(timeout=10) as client:
        verified, index, started = 0, 0, time.monotonic()
        while time.monotonic() - started < duration:
            url = running.urls[index % len(running.urls)]
            status = client.post(url + LEGACY, json=guess("victim", index), headers={"connection": "close"}).status_code
            verified += status == 401
            index += 1
    # The sliding window lets `limit` failures count over any window: over the run, its windows plus the one
    # before it, and one more per other process (each may verify one guess before it hears of the others').
    most = limit * (duration / window + 1) + running.processes - 1
    assert limit <= verified <= most, f"{verified} of {index} guesses verified in {duration} s"


def test_an_attacker_at_one_address_does_not_lock_the_owner_out_at_another(running: Deployment, tmp_path: Path) -> None:
    client_id, secret = create_client(running.env, tmp_path)
    owner = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=10)
    attacker = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.3"), timeout=10)
    with owner, attacker:
        attacks = Counter(
            attacker.post(running.urls[index % len(running.urls)] + LEGACY, json=guess(client_id, index)).status_code
            for index in range(30)
        )
        assert 429 in attacks, attacks
        for url in running.urls:
            legacy = owner.post(url + LEGACY, json={**guess(client_id, 0), "clientSecret": secret})
            standard = owner.post(url + TOKEN, data={"grant_type": "client_credentials"}, auth=(client_id, secret))
            assert (200, 200) == (legacy.status_code, standard.status_code)
        assert 429 == attacker.post(running.urls[0] + LEGACY, json=guess(client_id, 99)).status_code


def test_an_ipv6_source_counts_by_its_64(shape: str, tmp_path: Path) -> None:
    settings = {"HORUS_THROTTLE_ADDRESS_FAILURES": "5", "HORUS_TRUSTED_PROXIES": "127.0.0.1"}
    with deployment(shape, tmp_path, **settings) as running, httpx.Client(timeout=10) as client:

        def status_from(address: str, index: int) -> int:
            headers = {"x-forwarded-for": address}
            return client.post(running.urls[0] + LEGACY, json=guess(f"id-{index}", index), headers=headers).status_code

        statuses = [status_from(f"2001:db8::{index + 1:x}", index) for index in range(5 + running.processes - 1)]
        assert 429 not in statuses[:5]
        assert 429 == status_from("2001:db8::ffff:1", 100)  # another address of the same /64
        assert 401 == status_from("2001:db8:0:1::1", 101)  # the next /64 is someone else
