"""BatchedSigner: tokens asked for in one loop turn are signed together, each answered alone."""

from __future__ import annotations

import asyncio
import threading

import jwt
import pytest

from horus.adapters.signing.batched_signer import BatchedSigner, SigningFailed
from horus.adapters.signing.key_ring import KeyRing
from horus.domain.token import AccessTokenClaims
from tests.fakes import FixedClock
from tests.unit.test_signing import claims


class CountingSign:
    """Signs by naming the claims' jti; fails for one jti if asked to."""

    def __init__(self, failing_jti: str = "") -> None:
        self.failing_jti = failing_jti

    def __call__(self, token_claims: AccessTokenClaims) -> str:
        if token_claims.jti == self.failing_jti:
            raise ValueError("cannot sign")
        return f"token-for-{token_claims.jti}"


def numbered(clock: FixedClock, index: int) -> AccessTokenClaims:
    return claims(clock, jti=f"jti-{index}")


async def test_concurrent_requests_are_signed_in_one_batch_and_each_gets_its_own_token(clock: FixedClock) -> None:
    calls: list[str] = []
    signer = BatchedSigner(lambda token_claims: calls.append(token_claims.jti) or f"token-{token_claims.jti}")
    tokens = await asyncio.gather(*(signer.sign(numbered(clock, index)) for index in range(50)))
    assert [f"token-jti-{index}" for index in range(50)] == tokens
    assert [f"jti-{index}" for index in range(50)] == calls


async def test_one_request_alone_is_signed_within_a_loop_turn(clock: FixedClock) -> None:
    signer = BatchedSigner(CountingSign())
    assert "token-for-jti-1" == await asyncio.wait_for(signer.sign(numbered(clock, 1)), 1)
    assert "token-for-jti-2" == await asyncio.wait_for(signer.sign(numbered(clock, 2)), 1)


async def test_a_failed_signature_fails_its_own_request_only(clock: FixedClock) -> None:
    signer = BatchedSigner(CountingSign(failing_jti="jti-3"))
    results = await asyncio.gather(*(signer.sign(numbered(clock, index)) for index in range(6)), return_exceptions=True)
    assert isinstance(results[3], ValueError)
    assert [f"token-for-jti-{index}" for index in (0, 1, 2, 4, 5)] == [results[i] for i in (0, 1, 2, 4, 5)]


async def test_a_request_cancelled_while_it_waits_is_not_signed(clock: FixedClock) -> None:
    signed: list[str] = []
    signer = BatchedSigner(lambda token_claims: signed.append(token_claims.jti) or "token")
    waiting = [asyncio.ensure_future(signer.sign(numbered(clock, index))) for index in range(3)]
    await asyncio.sleep(0)  # all three have queued their claims; the batch runs on the next turn
    waiting[1].cancel()
    done = await asyncio.gather(*waiting, return_exceptions=True)
    assert isinstance(done[1], asyncio.CancelledError)
    assert ["jti-0", "jti-2"] == signed


def test_each_event_loop_gets_its_own_batches(clock: FixedClock) -> None:
    """A loop that ends with a batch queued (a test's loop, a restarted worker) does not hold up the next one."""
    signer = BatchedSigner(CountingSign())

    left: list[asyncio.Future[str]] = []

    async def queue_and_leave() -> None:
        left.append(asyncio.ensure_future(signer.sign(numbered(clock, 1))))  # the loop ends before its batch

    loop = asyncio.new_event_loop()
    loop.run_until_complete(queue_and_leave())
    loop.close()
    assert "token-for-jti-2" == asyncio.run(asyncio.wait_for(signer.sign(numbered(clock, 2)), 1))


async def test_tokens_from_the_batch_verify_with_the_ring(ring: KeyRing, clock: FixedClock) -> None:
    signer = BatchedSigner(ring.sign)
    tokens = await asyncio.gather(*(signer.sign(numbered(clock, index)) for index in range(5)))
    public_key = ring.verification_key(jwt.get_unverified_header(tokens[0])["kid"])
    audience = numbered(clock, 0).aud
    options = {"verify_exp": False}  # the claims carry the fixed clock's times
    decoded = [jwt.decode(token, public_key, [ring.algorithm], options, audience=audience) for token in tokens]
    assert [f"jti-{index}" for index in range(5)] == [token_claims["jti"] for token_claims in decoded]


async def test_nothing_that_escapes_a_batch_leaves_a_request_waiting(clock: FixedClock) -> None:
    def interrupted(token_claims: AccessTokenClaims) -> str:
        if token_claims.jti == "jti-1":
            raise KeyboardInterrupt
        return "token"

    signer = BatchedSigner(interrupted)
    waiting = [asyncio.ensure_future(signer.sign(numbered(clock, index))) for index in range(3)]
    await asyncio.sleep(0)  # queued; the batch is the next callback
    with pytest.raises(KeyboardInterrupt):
        signer._sign_batch(signer._batch)  # run the batch here, where the interrupt can be caught
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert "token" == results[0]
    assert all(isinstance(result, SigningFailed) for result in results[1:])


def test_a_loop_in_another_thread_does_not_join_a_running_loop_s_batch(clock: FixedClock) -> None:
    """A queued batch of a loop that is running in another thread is not this thread's batch."""
    signer = BatchedSigner(CountingSign())
    queued, release = threading.Event(), threading.Event()
    first: list[str] = []

    async def queue_and_hold() -> None:
        waiting = asyncio.ensure_future(signer.sign(numbered(clock, 1)))
        await asyncio.sleep(0)  # the batch is queued behind this task
        queued.set()
        release.wait(5)  # hold the loop (and its queued batch) while the other thread signs
        first.append(await waiting)

    holder = threading.Thread(target=lambda: asyncio.run(queue_and_hold()))
    holder.start()
    try:
        assert queued.wait(5)
        assert "token-for-jti-2" == asyncio.run(asyncio.wait_for(signer.sign(numbered(clock, 2)), 1))
    finally:
        release.set()
        holder.join(5)
    assert ["token-for-jti-1"] == first
