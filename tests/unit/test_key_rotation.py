"""Zero-downtime key rotation: publish first, sign after the lead time, retire once the old tokens expired;
revocation of a compromised key: out of the JWKS at once."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest

from horus.adapters.signing.jwt_verifier import JwtVerifier
from horus.adapters.signing.key_material import KeyEncryption, SigningKeyError
from horus.adapters.signing.key_ring import StoredKeys
from horus.adapters.storage.memory import MemoryStorage
from horus.domain.signing_key import CLOCK_SKEW, StoredSigningKey, revocation_plan
from horus.domain.token import AccessTokenClaims
from tests.fakes import FixedClock

LEAD = timedelta(seconds=600)
TTL = timedelta(seconds=3600)


def claims(clock: FixedClock) -> AccessTokenClaims:
    iat = int(clock.now().timestamp())
    return AccessTokenClaims("iss", "svc", "svc", "aud", iat, iat + int(TTL.total_seconds()), f"j{iat}", ())


def stored_keys(clock: FixedClock, storage: MemoryStorage | None = None) -> StoredKeys:
    return StoredKeys(storage if storage is not None else MemoryStorage(), KeyEncryption(b"e" * 32), clock)


def kids(jwks: object) -> list[str]:
    return [key["kid"] for key in jwks["keys"]]  # type: ignore[index]


async def test_a_rotation_publishes_first_then_signs_then_retires() -> None:
    clock = FixedClock()
    keys = stored_keys(clock)
    ring = await keys.load()
    old_kid = ring.active_kid

    new, schedule = await keys.rotate(LEAD, TTL)
    ring.replace_with(await keys.load())
    assert {old_kid, new.kid} == set(kids(ring.jwks()))
    old_token = ring.sign(claims(clock))
    assert old_kid == jwt.get_unverified_header(old_token)["kid"]

    clock.current = schedule.activates_at
    assert new.kid == jwt.get_unverified_header(ring.sign(claims(clock)))["kid"]  # without a reload

    ring.replace_with(await keys.load())
    verifier = JwtVerifier(ring, "iss", "aud", FixedClock(clock.current))
    assert verifier.verify(old_token) is not None  # issued before the switch, still valid

    clock.current = schedule.retire_previous_at + timedelta(seconds=1)
    ring.replace_with(await keys.load())
    assert [new.kid] == kids(ring.jwks())
    assert schedule.activates_at + TTL + CLOCK_SKEW == schedule.retire_previous_at


async def test_every_token_signed_during_a_rotation_verifies_with_a_jwks_cached_at_any_time() -> None:
    clock = FixedClock()
    keys = stored_keys(clock)
    ring = await keys.load()
    _, schedule = await keys.rotate(LEAD, TTL)
    snapshots = []
    tokens = []
    step = timedelta(seconds=120)
    while clock.current < schedule.retire_previous_at:
        ring.replace_with(await keys.load())
        snapshots.append((clock.current, {key["kid"]: key for key in ring.jwks()["keys"]}))
        tokens.append((clock.current, ring.sign(claims(clock))))
        clock.current += step
    # A resource server caching the JWKS for up to the lead time knows every kid it meets.
    for issued_at, token in tokens:
        kid = jwt.get_unverified_header(token)["kid"]
        for cached_at, jwks in snapshots:
            if issued_at - LEAD <= cached_at <= issued_at:
                assert kid in jwks


async def test_revoking_the_signing_key_takes_it_out_at_once_and_a_new_key_signs_from_now() -> None:
    clock = FixedClock()
    keys = stored_keys(clock)
    ring = await keys.load()
    old_kid = ring.active_kid
    old_token = ring.sign(claims(clock))

    revocation = await keys.revoke(old_kid, TTL)
    assert revocation.replacement is not None
    assert not revocation.already_out
    ring.replace_with(await keys.load())
    assert [revocation.replacement.kid] == kids(ring.jwks())
    assert revocation.replacement.kid == jwt.get_unverified_header(ring.sign(claims(clock)))["kid"]
    assert JwtVerifier(ring, "iss", "aud", FixedClock(clock.current)).verify(old_token) is None


async def test_revoking_the_pending_key_of_a_rotation_puts_a_new_one_on_its_schedule() -> None:
    clock = FixedClock()
    keys = stored_keys(clock)
    ring = await keys.load()
    old_kid = ring.active_kid
    pending, schedule = await keys.rotate(LEAD, TTL)

    revocation = await keys.revoke(pending.kid, TTL)
    assert revocation.replacement is not None
    assert (schedule.activates_at, None) == (revocation.replacement.activates_at, revocation.replacement.retires_at)
    ring.replace_with(await keys.load())
    assert {old_kid, revocation.replacement.kid} == set(kids(ring.jwks()))
    assert old_kid == jwt.get_unverified_header(ring.sign(claims(clock)))["kid"]
    # The rotation retires the old key on the assumption that a new one takes over: one still does.
    clock.current = schedule.retire_previous_at + timedelta(seconds=1)
    ring.replace_with(await keys.load())
    assert [revocation.replacement.kid] == kids(ring.jwks())
    assert revocation.replacement.kid == jwt.get_unverified_header(ring.sign(claims(clock)))["kid"]


async def test_revoking_a_key_that_neither_signs_nor_takes_over_needs_no_new_key() -> None:
    clock = FixedClock()
    keys = stored_keys(clock)
    ring = await keys.load()
    old_kid = ring.active_kid
    new, schedule = await keys.rotate(LEAD, TTL)
    clock.current = schedule.activates_at + timedelta(seconds=1)  # the old key only verifies now

    revocation = await keys.revoke(old_kid, TTL)
    assert (None, False) == (revocation.replacement, revocation.already_out)
    ring.replace_with(await keys.load())
    assert [new.kid] == kids(ring.jwks())


async def test_an_instance_whose_clock_lags_drops_the_revoked_key_too() -> None:
    clock, storage = FixedClock(), MemoryStorage()
    keys = stored_keys(clock, storage)
    old_kid = (await keys.load()).active_kid
    revocation = await keys.revoke(old_kid, TTL)
    assert revocation.replacement is not None

    lagging = stored_keys(FixedClock(clock.current - CLOCK_SKEW), storage)
    ring = await lagging.load()
    assert ([revocation.replacement.kid], revocation.replacement.kid) == (kids(ring.jwks()), ring.active_kid)


async def test_revoking_during_a_rotation_stops_the_old_key_while_the_pending_one_keeps_its_time() -> None:
    clock = FixedClock()
    keys = stored_keys(clock)
    ring = await keys.load()
    old_kid = ring.active_kid
    pending, schedule = await keys.rotate(LEAD, TTL)

    revocation = await keys.revoke(old_kid, TTL)
    assert revocation.replacement is not None
    ring.replace_with(await keys.load())
    assert {revocation.replacement.kid, pending.kid} == set(kids(ring.jwks()))
    assert revocation.replacement.kid == jwt.get_unverified_header(ring.sign(claims(clock)))["kid"]
    clock.current = schedule.activates_at
    assert pending.kid == jwt.get_unverified_header(ring.sign(claims(clock)))["kid"]
    # The replacement stands in until the pending key signs, then retires like a rotated-out key.
    assert schedule.retire_previous_at == revocation.replacement.retires_at
    clock.current = schedule.retire_previous_at + timedelta(seconds=1)
    ring.replace_with(await keys.load())
    assert [pending.kid] == kids(ring.jwks())


async def test_revoking_twice_changes_nothing_the_second_time() -> None:
    clock = FixedClock()
    keys = stored_keys(clock)
    old_kid = (await keys.load()).active_kid
    first = await keys.revoke(old_kid, TTL)
    stored = await keys.list_keys()

    again = await keys.revoke(old_kid, TTL)
    assert (True, None) == (again.already_out, again.replacement)
    assert stored == await keys.list_keys()
    assert first.replacement is not None
    assert first.replacement.kid == (await keys.load()).active_kid


async def test_revoking_an_unknown_kid_is_an_error_that_names_it() -> None:
    keys = stored_keys(FixedClock())
    await keys.load()
    with pytest.raises(SigningKeyError, match="no signing key 'nope'"):
        await keys.revoke("nope", TTL)


def test_a_replacement_signs_after_every_other_usable_key_even_one_activated_within_the_skew() -> None:
    now = FixedClock().now()

    def stored(kid: str, activated_ago: int, retires_in: int | None = None) -> StoredSigningKey:
        retires = now + timedelta(seconds=retires_in) if retires_in is not None else None
        activates = now - timedelta(seconds=activated_ago)
        return StoredSigningKey(kid, "ES256", b"", "{}", activates, activates, retires)

    # b took over from older 10 s ago and is revoked 5 s after newer took over from it.
    keys = [stored("older", 3600, 1000), stored("b", 10, 3600), stored("newer", 5)]
    plan = revocation_plan(keys, "newer", now, TTL)
    assert plan is not None
    assert plan.replacement_activates_at == keys[1].activates_at + timedelta(microseconds=1)
    assert now - CLOCK_SKEW == plan.retire_at
