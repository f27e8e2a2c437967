"""Brute-force throttling: the sliding-window counter, the policy, and what callers see over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from horus.adapters.http.client_address import client_address, parse_networks
from horus.adapters.throttling.memory import MemoryFailureCounter
from horus.app import create_app, resolved
from horus.domain.errors import TooManyAttempts
from horus.domain.throttling import FailureThrottle, ThrottlePolicy
from tests.conftest import make_container, make_settings

LEGACY = "/v1/nonspec/oauth2/auth/server"


class Ticker:
    def __init__(self) -> None:
        self.now = 1000.0 * 60

    def __call__(self) -> float:
        return self.now


async def test_the_window_slides() -> None:
    ticker = Ticker()
    counter = MemoryFailureCounter(60, clock=ticker)
    for _ in range(10):
        await counter.record_failure(["k"])
    assert [10.0] == list(await counter.recent_failures(["k"]))
    ticker.now += 60 + 30  # half of the previous window still overlaps
    assert [5.0] == list(await counter.recent_failures(["k"]))
    ticker.now += 60
    assert [0.0] == list(await counter.recent_failures(["k"]))


async def test_memory_is_bounded_whatever_ids_are_sent() -> None:
    counter = MemoryFailureCounter(60, max_keys=1000)
    for index in range(5000):
        await counter.record_failure([f"client:attacker-{index}"])
    assert 1000 == len(counter)


async def test_a_client_id_is_blocked_after_its_limit_and_others_are_not() -> None:
    throttle = FailureThrottle(MemoryFailureCounter(60), ThrottlePolicy(client_failures=3, address_failures=100))
    for _ in range(3):
        await throttle.check("victim", "10.0.0.1")
        await throttle.record_failure("victim", "10.0.0.1")
    with pytest.raises(TooManyAttempts) as raised:
        await throttle.check("victim", "10.0.0.2")
    assert 60 == raised.value.retry_after_seconds
    await throttle.check("bystander", "10.0.0.1")


async def test_an_address_is_blocked_after_its_limit_whatever_ids_it_tries() -> None:
    throttle = FailureThrottle(MemoryFailureCounter(60), ThrottlePolicy(client_failures=100, address_failures=5))
    for index in range(5):
        await throttle.record_failure(f"id-{index}", "10.0.0.9")
    with pytest.raises(TooManyAttempts):
        await throttle.check("fresh-id", "10.0.0.9")
    await throttle.check("fresh-id", "10.0.0.10")


async def test_over_the_limit_no_secret_is_verified_and_the_answer_is_429() -> None:
    container = make_container(make_settings(HORUS_THROTTLE_CLIENT_FAILURES="3"))
    async with AsyncTestClient(app=create_app(container)) as client:  # type: ignore[arg-type]
        created = await (await resolved(container.administration())).create(client_id="svc")
        other = await (await resolved(container.administration())).create(client_id="other")
        wrong = {"grantType": "client_credentials", "clientId": "svc", "clientSecret": other.secret}
        statuses = [(await client.post(LEGACY, json=wrong)).status_code for _ in range(5)]
        assert [401, 401, 401, 429, 429] == statuses
        right = {"grantType": "client_credentials", "clientId": "svc", "clientSecret": created.secret}
        throttled = await client.post(LEGACY, json=right)
        assert (429, 429001, "60") == (
            throttled.status_code,
            throttled.json()["code"],
            throttled.headers["retry-after"],
        )
        standard = await client.post(
            "/v1/oauth/token",
            data={"grant_type": "client_credentials", "client_id": "svc", "client_secret": created.secret or ""},
        )
        assert (429, "temporarily_unavailable", "60") == (
            standard.status_code,
            standard.json()["error"],
            standard.headers["retry-after"],
        )
        fine = {"grantType": "client_credentials", "clientId": "other", "clientSecret": other.secret}
        assert 200 == (await client.post(LEGACY, json=fine)).status_code


def scope(peer: str, forwarded: str | None = None) -> dict[str, Any]:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
    return {"client": (peer, 5555), "headers": headers}


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("203.0.113.9", "198.51.100.1", "", "203.0.113.9"),
        ("203.0.113.9", "198.51.100.1", "10.0.0.0/8", "203.0.113.9"),
        ("10.0.0.2", "198.51.100.1", "10.0.0.0/8", "198.51.100.1"),
        ("10.0.0.2", "1.1.1.1, 198.51.100.1, 10.0.0.7", "10.0.0.0/8", "198.51.100.1"),
        ("10.0.0.2", "garbage", "10.0.0.0/8", "10.0.0.2"),
        ("10.0.0.2", None, "10.0.0.0/8", "10.0.0.2"),
        ("::1", "2001:db8::1", "::1", "2001:db8::1"),
    ],
)
def test_the_client_address(peer: str, forwarded: str | None, trusted: str, expected: str) -> None:
    assert expected == client_address(scope(peer, forwarded), parse_networks(trusted))


def test_trusted_proxies_must_be_addresses() -> None:
    with pytest.raises(ValueError, match="not-an-ip"):
        parse_networks("10.0.0.0/8, not-an-ip")


async def test_a_burst_of_concurrent_guesses_is_held_to_the_limit() -> None:
    import asyncio

    from horus.adapters.storage.memory import MemoryStorage
    from horus.domain.authentication import ClientAuthenticator
    from horus.domain.errors import InvalidClient
    from tests.unit.test_grant import RecordingHasher

    storage = MemoryStorage()
    hasher = RecordingHasher()
    from horus.domain.client import Client
    from tests.fakes import T0

    await storage.add(Client("victim", "", (), True, "plain$right", T0, T0))
    authenticator = ClientAuthenticator(
        storage, hasher, FailureThrottle(MemoryFailureCounter(60), ThrottlePolicy(client_failures=10))
    )

    async def guess(index: int) -> str:
        try:
            await authenticator.authenticate("victim", f"guess-{index}", "10.0.0.1")
        except InvalidClient:
            return "401"
        except TooManyAttempts:
            return "429"
        return "200"

    outcomes = await asyncio.gather(*(guess(index) for index in range(200)))
    assert {"401": 10, "429": 190} == {status: outcomes.count(status) for status in set(outcomes)}
    assert 10 == len(hasher.verified)


def test_ids_no_client_can_have_are_counted_under_a_bounded_digest() -> None:
    from horus.domain.throttling import client_key

    assert "client:svc" == client_key("svc")
    assert client_key("a\x00b").startswith("client#")
    assert "\x00" not in client_key("a\x00b")
    assert len(client_key("x" * 5000)) < 50
