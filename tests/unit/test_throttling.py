"""Brute-force throttling: the rule (which keys, which limits), both admissions through the Admission port,
and what callers see over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Sequence

import pytest
from litestar.testing import AsyncTestClient

from horus.adapters.throttling.memory import MemoryAdmission
from horus.adapters.throttling.shared import SharedAdmission
from horus.app import create_app
from horus.domain.client_secret import format_generated_secret
from horus.domain.errors import StorageUnavailable, TooManyAttempts
from horus.domain.throttling import ThrottleKey, ThrottlePolicy, client_key, throttle_keys
from horus.ports.throttling import Admission
from tests.conftest import make_container, make_settings
from tests.fakes import SharedCountersInMemory, Ticker

LEGACY = "/v1/nonspec/oauth2/auth/server"
POLICY = ThrottlePolicy(client_failures=10, client_global_failures=100, address_failures=30)
AdmissionFactory = Callable[[Ticker], Admission]


def memory_admission(ticker: Ticker) -> Admission:
    return MemoryAdmission(60, clock=ticker)


def shared_admission(ticker: Ticker) -> Admission:
    return SharedAdmission(SharedCountersInMemory(latency=lambda: random.uniform(0, 0.002)), 60, clock=ticker)


ADMISSIONS = [pytest.param(memory_admission, id="memory"), pytest.param(shared_admission, id="shared")]


@pytest.fixture(params=ADMISSIONS)
def admission_factory(request: pytest.FixtureRequest) -> AdmissionFactory:
    factory: AdmissionFactory = request.param
    return factory


async def fail(admission: Admission, keys: Sequence[ThrottleKey]) -> None:
    async with admission.attempt(keys) as attempt:
        await attempt.failed()


async def admitted(admission: Admission, keys: Sequence[ThrottleKey]) -> bool:
    try:
        async with admission.attempt(keys):
            return True
    except TooManyAttempts:
        return False


def test_an_attempt_counts_against_the_client_at_its_address_the_client_and_the_address() -> None:
    assert (
        ("client:svc@10.0.0.1", 10),
        ("client:svc", 100),
        ("address:10.0.0.1", 30),
    ) == throttle_keys(POLICY, "svc", "10.0.0.1")
    assert (("client:svc", 10),) == throttle_keys(POLICY, "svc", None)


def test_ids_no_client_can_have_are_counted_under_a_bounded_digest() -> None:
    secret = format_generated_secret(bytes(32))
    for weird in ("a" * 10_000, "nul\x00id", "spaces are not allowed", secret):
        key = client_key(weird)
        assert "client#" == key[:7]
        assert 39 == len(key)
        assert weird not in key
    assert "client:svc" == client_key("svc")


@pytest.mark.parametrize("limits", [(0, 1, 1, 1), (1, 0, 1, 1), (1, 1, 0, 1), (1, 1, 1, 0)])
def test_a_throttle_policy_needs_limits_and_a_window_of_at_least_one(limits: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ThrottlePolicy(*limits)


async def test_the_window_slides(admission_factory: AdmissionFactory) -> None:
    ticker = Ticker()
    admission = admission_factory(ticker)
    keys = [("k", 10)]
    for _ in range(10):
        await fail(admission, keys)
    assert not await admitted(admission, keys)
    ticker.now += 60 + 30  # the previous window still half overlaps: 5 failures count
    assert await admitted(admission, keys)
    for _ in range(4):
        await fail(admission, keys)
    assert await admitted(admission, keys)  # 5 + 4 = 9 < 10
    await fail(admission, keys)
    assert not await admitted(admission, keys)
    ticker.now += 120
    assert await admitted(admission, keys)


async def test_a_client_at_one_address_is_refused_after_its_limit_and_elsewhere_it_is_not(
    admission_factory: AdmissionFactory,
) -> None:
    admission = admission_factory(Ticker())
    for _ in range(10):
        await fail(admission, throttle_keys(POLICY, "victim", "10.0.0.1"))
    with pytest.raises(TooManyAttempts) as raised:
        async with admission.attempt(throttle_keys(POLICY, "victim", "10.0.0.1")):
            pass
    assert 60 == raised.value.retry_after_seconds
    assert await admitted(admission, throttle_keys(POLICY, "victim", "10.0.0.2"))  # the owner, elsewhere
    assert await admitted(admission, throttle_keys(POLICY, "bystander", "10.0.0.1"))


async def test_a_client_is_refused_everywhere_past_its_global_limit(admission_factory: AdmissionFactory) -> None:
    admission = admission_factory(Ticker())
    policy = ThrottlePolicy(client_failures=10, client_global_failures=25, address_failures=1000)
    for index in range(25):
        await fail(admission, throttle_keys(policy, "victim", f"10.0.{index}.1"))
    assert not await admitted(admission, throttle_keys(policy, "victim", "192.0.2.1"))
    assert await admitted(admission, throttle_keys(policy, "bystander", "192.0.2.1"))


async def test_an_address_is_refused_after_its_limit_whatever_ids_it_tries(admission_factory: AdmissionFactory) -> None:
    admission = admission_factory(Ticker())
    for index in range(30):
        await fail(admission, throttle_keys(POLICY, f"id-{index}", "10.0.0.9"))
    assert not await admitted(admission, throttle_keys(POLICY, "fresh-id", "10.0.0.9"))
    assert await admitted(admission, throttle_keys(POLICY, "fresh-id", "10.0.0.10"))


async def most_verified_in_a_burst(admission: Admission, key_sets: Sequence[Sequence[ThrottleKey]]) -> int:
    """Runs one guess per key set at once; each verification takes a random while. How many were verified."""
    verified = 0

    async def guess(keys: Sequence[ThrottleKey]) -> None:
        nonlocal verified
        with contextlib.suppress(TooManyAttempts):
            async with admission.attempt(keys) as attempt:
                verified += 1
                await asyncio.sleep(random.uniform(0, 0.003))
                await attempt.failed()

    await asyncio.gather(*(guess(keys) for keys in key_sets))
    return verified


async def test_a_burst_of_concurrent_guesses_for_one_client_is_held_to_its_limit(
    admission_factory: AdmissionFactory,
) -> None:
    for _ in range(5):
        admission = admission_factory(Ticker())
        assert 10 == await most_verified_in_a_burst(admission, [throttle_keys(POLICY, "victim", "10.0.0.1")] * 200)


async def test_a_burst_spread_over_many_client_ids_is_held_to_the_address_limit(
    admission_factory: AdmissionFactory,
) -> None:
    for _ in range(5):
        admission = admission_factory(Ticker())
        key_sets = [throttle_keys(POLICY, f"id-{index}", "10.0.0.1") for index in range(300)]
        assert 30 == await most_verified_in_a_burst(admission, key_sets)


async def test_many_concurrent_successes_all_pass_however_low_the_limit(admission_factory: AdmissionFactory) -> None:
    admission = admission_factory(Ticker())
    passed = 0

    async def succeed() -> None:
        nonlocal passed
        async with admission.attempt(throttle_keys(POLICY, "svc", "10.0.0.1")):
            await asyncio.sleep(random.uniform(0, 0.003))
            passed += 1

    await asyncio.gather(*(succeed() for _ in range(100)))
    assert 100 == passed


async def test_attempts_waiting_for_a_place_are_refused_once_those_before_them_fail_to_the_limit(
    admission_factory: AdmissionFactory,
) -> None:
    admission = admission_factory(Ticker())
    outcomes = await asyncio.gather(
        *(most_verified_in_a_burst(admission, [throttle_keys(POLICY, "victim", "10.0.0.1")]) for _ in range(50))
    )
    assert 10 == sum(outcomes)
    assert not await admitted(admission, throttle_keys(POLICY, "victim", "10.0.0.1"))


async def test_cancelling_waiting_attempts_leaves_no_one_waiting_forever(admission_factory: AdmissionFactory) -> None:
    admission = admission_factory(Ticker())
    keys = throttle_keys(POLICY, "svc", "10.0.0.1")
    release = asyncio.Event()

    async def hold() -> None:
        async with admission.attempt(keys):
            await release.wait()

    holders = [asyncio.create_task(hold()) for _ in range(10)]
    await asyncio.sleep(0.05)
    waiters = [asyncio.create_task(hold()) for _ in range(20)]
    await asyncio.sleep(0.05)
    for waiter in waiters[::2]:
        waiter.cancel()
    release.set()
    await asyncio.wait_for(asyncio.gather(*holders, *waiters[1::2]), 5)
    assert await admitted(admission, keys)


async def test_a_guess_whose_failure_could_not_be_stored_still_counts() -> None:
    counters = SharedCountersInMemory()
    admission = SharedAdmission(counters, 60, clock=Ticker(), max_wait_seconds=0.1)
    keys = throttle_keys(POLICY, "victim", "10.0.0.1")
    counters.fail_writes = True
    with pytest.raises(StorageUnavailable):
        await fail(admission, keys)  # cold: its failure could not be written, but it is counted here
    for _ in range(9):
        with pytest.raises(StorageUnavailable):
            await fail(admission, keys)  # hot: reserved in the database, the end could not be written
    counters.fail_writes = False
    assert 0 == await most_verified_in_a_burst(admission, [keys] * 5)


def processes_sharing(count: int, feed: bool) -> list[SharedAdmission]:
    """SharedAdmissions on one database, as `count` processes hold them; with or without the feed of failures."""
    counters = SharedCountersInMemory(latency=lambda: random.uniform(0, 0.002))
    processes = [SharedAdmission(counters, 60, clock=Ticker()) for _ in range(count)]
    if feed:
        counters.listeners = [process.hear_failures for process in processes]
    return processes


async def burst_over(processes: list[SharedAdmission], key_sets: Sequence[Sequence[ThrottleKey]]) -> int:
    verified = 0

    async def guess(index: int, keys: Sequence[ThrottleKey]) -> None:
        nonlocal verified
        with contextlib.suppress(TooManyAttempts):
            async with processes[index % len(processes)].attempt(keys) as attempt:
                verified += 1
                await asyncio.sleep(random.uniform(0, 0.003))
                await attempt.failed()

    await asyncio.gather(*(guess(index, keys) for index, keys in enumerate(key_sets)))
    return verified


@pytest.mark.parametrize("feed", [True, False], ids=["with the feed", "without the feed"])
async def test_a_burst_over_four_processes_passes_the_limit_by_at_most_three(feed: bool) -> None:
    for _ in range(10):
        verified = await burst_over(processes_sharing(4, feed), [throttle_keys(POLICY, "victim", "10.0.0.1")] * 200)
        assert 10 <= verified <= 10 + 3
        verified = await burst_over(
            processes_sharing(4, feed), [throttle_keys(POLICY, f"id-{index}", "10.0.0.1") for index in range(400)]
        )
        assert 30 <= verified <= 30 + 3


async def test_successes_on_cold_keys_make_no_storage_round_trip() -> None:
    counters = SharedCountersInMemory()
    calls = 0
    reserve = counters.reserve_attempt

    async def counted(keys: Sequence[str], window: int) -> Sequence[tuple[int, int, int]]:
        nonlocal calls
        calls += 1
        return await reserve(keys, window)

    counters.reserve_attempt = counted  # type: ignore[method-assign]
    admission = SharedAdmission(counters, 60, clock=Ticker())
    for _ in range(100):
        assert await admitted(admission, throttle_keys(POLICY, "svc", "10.0.0.1"))
    assert ({}, 0) == (counters.counts, calls)
    await fail(admission, throttle_keys(POLICY, "other", "10.0.0.2"))
    assert await admitted(admission, throttle_keys(POLICY, "svc", "10.0.0.1"))  # still cold
    assert 0 == calls


async def test_over_the_limit_no_secret_is_verified_and_the_answer_is_429() -> None:
    container = make_container(make_settings(HORUS_THROTTLE_CLIENT_FAILURES="3"))
    async with AsyncTestClient(app=create_app(container)) as client:  # type: ignore[arg-type]
        created = await (await container.administration.async_()).create(client_id="svc")
        other = await (await container.administration.async_()).create(client_id="other")
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


async def test_memory_is_bounded_whatever_ids_are_sent() -> None:
    admission = MemoryAdmission(60, max_keys=1000)
    for index in range(5000):
        await fail(admission, [(f"client:attacker-{index}", 10)])
    # Bounded: the first ids were forgotten, so a fresh guess for one of them is admitted again.
    assert await admitted(admission, [("client:attacker-0", 1)])
    assert not await admitted(admission, [("client:attacker-4999", 1)])
