"""Zero-downtime key rotation: publish first, sign after the lead time, retire once the old tokens expired."""

from __future__ import annotations

from datetime import timedelta

import jwt

from horus.adapters.signing.jwt_verifier import JwtVerifier
from horus.adapters.signing.key_material import KeyEncryption
from horus.adapters.signing.key_ring import StoredKeys
from horus.adapters.storage.memory import MemoryStorage
from horus.domain.signing_key import CLOCK_SKEW
from horus.domain.token import AccessTokenClaims
from tests.fakes import FixedClock

LEAD = timedelta(seconds=600)
TTL = timedelta(seconds=3600)


def claims(clock: FixedClock) -> AccessTokenClaims:
    iat = int(clock.now().timestamp())
    return AccessTokenClaims("iss", "svc", "svc", "aud", iat, iat + int(TTL.total_seconds()), f"j{iat}", ())


def kids(jwks: object) -> list[str]:
    return [key["kid"] for key in jwks["keys"]]  # type: ignore[index]


async def test_a_rotation_publishes_first_then_signs_then_retires() -> None:
    clock = FixedClock()
    keys = StoredKeys(MemoryStorage(), KeyEncryption(b"e" * 32), clock)
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
    keys = StoredKeys(MemoryStorage(), KeyEncryption(b"e" * 32), clock)
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
