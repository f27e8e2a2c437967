"""Brute-force throttling: the sliding-window counter, the policy, and what callers see over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from horus.adapters.http.client_address import MAX_REMEMBERED_ADDRESSES, TrustedProxies, client_address, parse_networks
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
        ("::1", "2001:DB8:0:0::1", "::1", "2001:db8::1"),  # one address, one way of writing it
        ("10.0.0.2", "198.51.100.1, " + "9" * 60, "10.0.0.0/8", "10.0.0.2"),  # junk too long to remember
    ],
)
def test_the_client_address(peer: str, forwarded: str | None, trusted: str, expected: str) -> None:
    proxies = TrustedProxies(parse_networks(trusted))
    assert expected == client_address(scope(peer, forwarded), proxies)
    assert expected == client_address(scope(peer, forwarded), proxies)  # the second time from remembered answers


def test_remembered_proxy_answers_stay_bounded_and_right() -> None:
    proxies = TrustedProxies(parse_networks("10.0.0.0/8"))
    for index in range(MAX_REMEMBERED_ADDRESSES * 2):
        assert proxies.trusts(f"10.{index // 65536}.{index // 256 % 256}.{index % 256}")
        assert not proxies.trusts(f"192.0.{index // 256 % 256}.{index % 256}")
    assert len(proxies._facts) <= MAX_REMEMBERED_ADDRESSES
    assert not proxies.trusts("10.0.0.1" + " " * 100)  # not an address, and too long to be remembered
    assert len(proxies._facts) <= MAX_REMEMBERED_ADDRESSES


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


# _Turns: the per-clientId turn is taken by whoever finds it free; nobody is left waiting forever.


async def started_taking(turns: Any) -> Any:
    """A task that calls take() and, the turn being held, is now waiting for it."""
    import asyncio

    task = asyncio.create_task(turns.take())
    await asyncio.sleep(0)
    assert not task.done()
    return task


def takes_without_waiting(turns: Any) -> bool:
    """take() ran to the end without suspending once."""
    coroutine = turns.take()
    try:
        coroutine.send(None)
    except StopIteration:
        return True
    coroutine.close()
    return False


async def test_a_free_turn_is_taken_at_once() -> None:
    from horus.domain.throttling import _Turns

    turns = _Turns()
    assert takes_without_waiting(turns)
    assert turns.held
    assert 0 == len(turns._waiters)


async def test_a_second_taker_waits_until_the_turn_is_given_back() -> None:
    import asyncio

    from horus.domain.throttling import _Turns

    turns = _Turns()
    await turns.take()
    second = await started_taking(turns)
    for _ in range(5):
        await asyncio.sleep(0)
    assert not second.done()
    turns.give_back()
    await asyncio.wait_for(second, 1)
    assert turns.held
    assert 0 == len(turns._waiters)


async def test_a_waiter_cancelled_while_waiting_leaves_and_blocks_nobody() -> None:
    import asyncio

    from horus.domain.throttling import _Turns

    turns = _Turns()
    await turns.take()
    first, second = await started_taking(turns), await started_taking(turns)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert 1 == len(turns._waiters)
    turns.give_back()
    await asyncio.wait_for(second, 1)
    assert turns.held
    assert 0 == len(turns._waiters)


async def test_a_waiter_woken_then_cancelled_passes_the_wake_up_on() -> None:
    import asyncio

    from horus.domain.throttling import _Turns

    turns = _Turns()
    await turns.take()
    woken, next_in_line = await started_taking(turns), await started_taking(turns)
    turns.give_back()  # wakes `woken`, which has not run yet
    woken.cancel()
    await asyncio.wait_for(next_in_line, 1)  # without the hand-on it would wait forever
    with pytest.raises(asyncio.CancelledError):
        await woken
    assert turns.held
    assert 0 == len(turns._waiters)


async def test_an_arrival_takes_a_free_turn_before_a_woken_waiter_which_then_waits_again() -> None:
    import asyncio

    from horus.domain.throttling import _Turns

    turns = _Turns()
    await turns.take()
    woken = await started_taking(turns)
    turns.give_back()  # wakes `woken`, which has not run yet
    assert takes_without_waiting(turns)  # no FIFO hand-off: the free turn goes to who asks first
    await asyncio.sleep(0)
    assert not woken.done()
    assert 1 == len(turns._waiters)
    turns.give_back()
    await asyncio.wait_for(woken, 1)
    assert turns.held


class YieldingFailureCounter(MemoryFailureCounter):
    """Reading the counts suspends, as a storage read would: every attempt reads before any takes its turn."""

    async def recent_failures(self, keys: Any) -> Any:
        import asyncio

        await asyncio.sleep(0)
        return await super().recent_failures(keys)


def watch_turns(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts the take() calls (made only when the turn is held: a free turn is taken without one) and the waits."""
    from horus.domain.throttling import _Turns

    seen = {"takes": 0, "waits": 0}

    class WatchedTurns(_Turns):
        async def take(self) -> None:
            seen["takes"] += 1
            if self.held:
                seen["waits"] += 1
            await super().take()

    monkeypatch.setattr("horus.domain.throttling._Turns", WatchedTurns)
    return seen


async def test_concurrent_attempts_that_do_not_suspend_in_their_turn_never_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    seen = watch_turns(monkeypatch)
    throttle = FailureThrottle(YieldingFailureCounter(60), ThrottlePolicy())

    async def succeed() -> None:
        async with throttle.attempt("svc", "10.0.0.1"):
            pass

    await asyncio.gather(*(succeed() for _ in range(64)))
    assert {"takes": 0, "waits": 0} == seen
    assert {} == throttle._turns


async def test_attempts_that_suspend_in_their_turn_wait_and_take_turns_one_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    seen = watch_turns(monkeypatch)
    throttle = FailureThrottle(YieldingFailureCounter(60), ThrottlePolicy())
    inside = {"now": 0, "most": 0, "done": 0}

    async def succeed_slowly() -> None:
        async with throttle.attempt("svc", "10.0.0.1"):
            inside["now"] += 1
            inside["most"] = max(inside["most"], inside["now"])
            await asyncio.sleep(0)
            inside["now"] -= 1
            inside["done"] += 1

    await asyncio.wait_for(asyncio.gather(*(succeed_slowly() for _ in range(64))), 5)
    assert (1, 64) == (inside["most"], inside["done"])
    assert seen["waits"] > 0  # the watch does see waiting when there is some
    assert {} == throttle._turns


async def test_cancellations_at_any_point_leave_no_one_waiting_forever(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    import random

    watch_turns(monkeypatch)
    throttle = FailureThrottle(YieldingFailureCounter(60), ThrottlePolicy())
    inside = {"now": 0, "most": 0}

    async def succeed_slowly() -> None:
        async with throttle.attempt("svc", "10.0.0.1"):
            inside["now"] += 1
            inside["most"] = max(inside["most"], inside["now"])
            try:
                await asyncio.sleep(0)
            finally:
                inside["now"] -= 1

    chooser = random.Random(7)
    tasks = [asyncio.create_task(succeed_slowly()) for _ in range(64)]
    cancelled = set()
    for _ in range(40):
        await asyncio.sleep(0)
        victim = chooser.randrange(len(tasks))
        if not tasks[victim].done():
            tasks[victim].cancel()
            cancelled.add(victim)
    outcomes = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)
    finished = [index for index, outcome in enumerate(outcomes) if outcome is None]
    assert cancelled
    assert set(range(64)) - cancelled <= set(finished)
    assert 1 == inside["most"]
    assert {} == throttle._turns


class SlowFailureCounter:
    """Reads return the count as of their start and writes land later, as with a database."""

    def __init__(self, rng: random.Random) -> None:
        self.count: dict[str, int] = {}
        self.rng = rng

    async def recent_failures(self, keys: Sequence[str]) -> Sequence[float]:
        snapshot = [float(self.count.get(key, 0)) for key in keys]
        await asyncio.sleep(self.rng.random() * 0.002)
        return snapshot

    async def record_failure(self, keys: Sequence[str]) -> None:
        await asyncio.sleep(self.rng.random() * 0.002)
        for key in keys:
            self.count[key] = self.count.get(key, 0) + 1


async def most_verified_in_bursts(
    seed: int, policy: ThrottlePolicy, bursts: int, size: int, client_id: Callable[[int], str], address: str | None
) -> int:
    """The most wrong guesses verified in any of `bursts` concurrent bursts of `size`, at random moments."""
    rng = random.Random(seed)
    worst = 0
    for _ in range(bursts):
        throttle = FailureThrottle(SlowFailureCounter(rng), policy)
        verified = 0

        async def guess(throttle: FailureThrottle, index: int) -> None:
            nonlocal verified
            await asyncio.sleep(rng.random() * 0.01)
            with contextlib.suppress(TooManyAttempts):
                async with throttle.attempt(client_id(index), address) as attempt:
                    verified += 1
                    await asyncio.sleep(rng.random() * 0.001)
                    await attempt.failed()

        await asyncio.wait_for(asyncio.gather(*(guess(throttle, index) for index in range(size))), 10)
        worst = max(worst, verified)
        assert ({}, {}) == (throttle._turns, throttle._loads)
    return worst


async def test_a_burst_never_verifies_more_than_the_limit_when_storage_reads_and_writes_take_time() -> None:
    """A turn that read before another turn's failure was stored must still count that failure."""
    policy = ThrottlePolicy(client_failures=10, address_failures=10**9)
    assert 10 == await most_verified_in_bursts(1, policy, 40, 200, lambda _: "victim", None)


@pytest.mark.parametrize("limits", [(0, 100, 60), (10, 0, 60), (10, 100, 0)])
def test_a_throttle_policy_needs_limits_and_a_window_of_at_least_one(limits: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ThrottlePolicy(*limits)


async def test_a_burst_spread_over_many_client_ids_never_verifies_more_than_the_address_limit() -> None:
    policy = ThrottlePolicy(client_failures=10, address_failures=30)
    assert 30 == await most_verified_in_bursts(3, policy, 30, 300, lambda index: f"victim-{index}", "10.6.6.6")


async def test_many_concurrent_successes_from_one_address_all_pass_however_few_its_slots() -> None:
    throttle = FailureThrottle(YieldingFailureCounter(60), ThrottlePolicy(address_failures=10))
    inside = {"now": 0, "most": 0, "done": 0}

    async def succeed(index: int) -> None:
        async with throttle.attempt(f"svc-{index}", "10.0.0.1"):
            inside["now"] += 1
            inside["most"] = max(inside["most"], inside["now"])
            await asyncio.sleep(0.001)
            inside["now"] -= 1
            inside["done"] += 1

    await asyncio.wait_for(asyncio.gather(*(succeed(index) for index in range(64))), 5)
    assert (10, 64) == (inside["most"], inside["done"])
    assert {} == throttle._loads


async def test_attempts_waiting_for_a_slot_are_refused_once_those_before_them_reach_the_limit() -> None:
    throttle = FailureThrottle(YieldingFailureCounter(60), ThrottlePolicy(address_failures=5))

    async def guess(index: int) -> str:
        try:
            async with throttle.attempt(f"victim-{index}", "10.6.6.6") as attempt:
                await asyncio.sleep(0.001)
                await attempt.failed()
        except TooManyAttempts:
            return "429"
        return "401"

    outcomes = await asyncio.wait_for(asyncio.gather(*(guess(index) for index in range(40))), 5)
    assert {"401": 5, "429": 35} == {outcome: outcomes.count(outcome) for outcome in set(outcomes)}
    assert {} == throttle._loads


async def test_cancelling_attempts_that_wait_for_a_slot_leaves_no_one_waiting_forever() -> None:
    import random

    throttle = FailureThrottle(YieldingFailureCounter(60), ThrottlePolicy(address_failures=4))
    inside = {"now": 0, "most": 0}

    async def succeed(index: int) -> None:
        async with throttle.attempt(f"svc-{index}", "10.0.0.1"):
            inside["now"] += 1
            inside["most"] = max(inside["most"], inside["now"])
            try:
                await asyncio.sleep(0.001)
            finally:
                inside["now"] -= 1

    chooser = random.Random(11)
    tasks = [asyncio.create_task(succeed(index)) for index in range(64)]
    cancelled = set()
    for _ in range(40):
        await asyncio.sleep(0)
        victim = chooser.randrange(len(tasks))
        if not tasks[victim].done():
            tasks[victim].cancel()
            cancelled.add(victim)
    outcomes = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)
    finished = [index for index, outcome in enumerate(outcomes) if outcome is None]
    assert cancelled
    assert set(range(64)) - cancelled <= set(finished)
    assert 4 == inside["most"]
    assert ({}, {}) == (throttle._turns, throttle._loads)


async def test_a_guess_whose_failure_could_not_be_stored_still_counts_against_the_address() -> None:
    from horus.domain.errors import StorageUnavailable

    class FailingWrites:
        async def recent_failures(self, keys: Sequence[str]) -> Sequence[float]:
            return [0.0 for _ in keys]

        async def record_failure(self, keys: Sequence[str]) -> None:
            await asyncio.sleep(0.001)
            raise StorageUnavailable("the database went away")

    throttle = FailureThrottle(FailingWrites(), ThrottlePolicy(client_failures=10, address_failures=5))
    verified = 0

    async def guess(index: int) -> str:
        nonlocal verified
        try:
            async with throttle.attempt(f"victim-{index}", "10.6.6.6") as attempt:
                verified += 1
                await asyncio.sleep(0.001)
                await attempt.failed()
        except TooManyAttempts:
            return "429"
        except StorageUnavailable:
            return "503"
        return "401"

    outcomes = await asyncio.wait_for(asyncio.gather(*(guess(index) for index in range(40))), 5)
    assert (5, {"503": 5, "429": 35}) == (
        verified,
        {outcome: outcomes.count(outcome) for outcome in set(outcomes)},
    )
    assert ({}, {}) == (throttle._turns, throttle._loads)


async def test_an_empty_address_is_not_counted_and_takes_no_slot() -> None:
    throttle = FailureThrottle(YieldingFailureCounter(60), ThrottlePolicy(address_failures=1))
    for _ in range(3):
        async with throttle.attempt("svc", ""):
            assert {} == throttle._loads
