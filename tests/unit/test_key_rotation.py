"""Zero-downtime key rotation: publish first, sign after the lead time, retire once the old tokens expired;
revocation of a compromised key: out of the JWKS at once. Whatever the sequence, every token signed with a key
that was not revoked verifies through the JWKS until it expires."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from horus.adapters.signing.jwt_verifier import JwtVerifier
from horus.adapters.signing.key_material import KeyEncryption
from horus.adapters.signing.key_ring import KEY_REFRESH_SECONDS, KeyRing, StoredKeys
from horus.adapters.storage.memory import MemoryStorage
from horus.domain.key_administration import KeyAdministration, UnknownSigningKey
from horus.domain.signing_key import CLOCK_SKEW, KeyState, StoredSigningKey, key_states
from horus.domain.token import AccessTokenClaims
from tests.fakes import FixedClock

LEAD = timedelta(seconds=600)
TTL = timedelta(seconds=3600)


def claims(clock: FixedClock) -> AccessTokenClaims:
    iat = int(clock.now().timestamp())
    return AccessTokenClaims("iss", "svc", "svc", "aud", iat, iat + int(TTL.total_seconds()), f"j{iat}", ())


class Keys:
    """The signing keys of one deployment: its storage, `horus keys` with any lead time, and key rings as
    each instance loads them."""

    def __init__(self, clock: FixedClock, storage: MemoryStorage | None = None) -> None:
        self.clock = clock
        self.storage = storage if storage is not None else MemoryStorage()
        self.encryption = KeyEncryption(b"e" * 32)
        self.loader = StoredKeys(self.admin(), self.encryption, clock)

    def admin(self, lead: timedelta = LEAD) -> KeyAdministration:
        return KeyAdministration(self.storage, self.encryption, self.clock, TTL, lead)

    async def load(self) -> KeyRing:
        return await self.loader.load()


def kids(jwks: object) -> list[str]:
    return [key["kid"] for key in jwks["keys"]]  # type: ignore[index]


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


async def test_a_rotation_publishes_first_then_signs_then_retires() -> None:
    clock = FixedClock()
    keys = Keys(clock)
    ring = await keys.load()
    old_kid = ring.active_kid

    rotation = await keys.admin().rotate()
    new, schedule = rotation.key, rotation.schedule
    ring.replace_with(await keys.load())
    assert {old_kid, new.kid} == set(kids(ring.jwks()))
    old_token = ring.sign(claims(clock))
    assert old_kid == kid_of(old_token)

    clock.current = schedule.activates_at
    assert new.kid == kid_of(ring.sign(claims(clock)))  # without a reload

    ring.replace_with(await keys.load())
    verifier = JwtVerifier(ring, "iss", "aud", FixedClock(clock.current))
    assert verifier.verify(old_token) is not None  # issued before the switch, still valid

    clock.current = schedule.retire_previous_at + timedelta(seconds=1)
    ring.replace_with(await keys.load())
    assert [new.kid] == kids(ring.jwks())
    assert schedule.activates_at + TTL + CLOCK_SKEW == schedule.retire_previous_at


async def test_every_token_signed_during_a_rotation_verifies_with_a_jwks_cached_at_any_time() -> None:
    clock = FixedClock()
    keys = Keys(clock)
    ring = await keys.load()
    schedule = (await keys.admin().rotate()).schedule
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
        kid = kid_of(token)
        for cached_at, jwks in snapshots:
            if issued_at - LEAD <= cached_at <= issued_at:
                assert kid in jwks


async def test_a_rotation_without_lead_time_during_a_rotation_keeps_the_pending_key_from_ever_signing() -> None:
    """Issue 13: `horus keys rotate` then `HORUS_KEY_ROTATION_LEAD=0 horus keys rotate` made the first rotation's
    key take over at its activation and sign until its own retirement, so its last tokens outlived it in the JWKS."""
    clock = FixedClock()
    keys = Keys(clock)
    ring = await keys.load()
    first = (await keys.admin().rotate()).key
    clock.advance(1)
    second = (await keys.admin(lead=timedelta(0)).rotate()).key

    tokens = []
    for moment in (clock.now(), first.activates_at, first.activates_at + LEAD):
        clock.current = moment
        ring.replace_with(await keys.load())
        tokens.append(ring.sign(claims(clock)))
    assert [second.kid] * 3 == [kid_of(token) for token in tokens]
    states = {key.kid: state for key, state in key_states(await keys.storage.list_keys(), clock.now())}
    assert (KeyState.RETIRING, KeyState.ACTIVE) == (states[first.kid], states[second.kid])

    clock.current = first.activates_at + LEAD + TTL - timedelta(seconds=1)  # the last token has not expired yet
    ring.replace_with(await keys.load())
    assert second.kid in kids(ring.jwks())
    assert JwtVerifier(ring, "iss", "aud", clock).verify(tokens[-1]) is not None


async def test_revoking_the_signing_key_takes_it_out_at_once_and_a_new_key_signs_from_now() -> None:
    clock = FixedClock()
    keys = Keys(clock)
    ring = await keys.load()
    old_kid = ring.active_kid
    old_token = ring.sign(claims(clock))

    revocation = await keys.admin().revoke(old_kid)
    assert revocation.replacement is not None
    assert not revocation.already_out
    ring.replace_with(await keys.load())
    assert [revocation.replacement.kid] == kids(ring.jwks())
    assert revocation.replacement.kid == kid_of(ring.sign(claims(clock)))
    assert JwtVerifier(ring, "iss", "aud", FixedClock(clock.current)).verify(old_token) is None


async def test_revoking_the_pending_key_of_a_rotation_puts_a_new_one_on_its_schedule() -> None:
    clock = FixedClock()
    keys = Keys(clock)
    ring = await keys.load()
    old_kid = ring.active_kid
    rotation = await keys.admin().rotate()
    pending, schedule = rotation.key, rotation.schedule

    revocation = await keys.admin().revoke(pending.kid)
    assert revocation.replacement is not None
    assert (schedule.activates_at, None) == (revocation.replacement.activates_at, revocation.replacement.retires_at)
    ring.replace_with(await keys.load())
    assert {old_kid, revocation.replacement.kid} == set(kids(ring.jwks()))
    assert old_kid == kid_of(ring.sign(claims(clock)))
    # The rotation retires the old key on the assumption that a new one takes over: one still does.
    clock.current = schedule.retire_previous_at + timedelta(seconds=1)
    ring.replace_with(await keys.load())
    assert [revocation.replacement.kid] == kids(ring.jwks())
    assert revocation.replacement.kid == kid_of(ring.sign(claims(clock)))


async def test_revoking_a_key_that_neither_signs_nor_takes_over_needs_no_new_key() -> None:
    clock = FixedClock()
    keys = Keys(clock)
    ring = await keys.load()
    old_kid = ring.active_kid
    rotation = await keys.admin().rotate()
    clock.current = rotation.schedule.activates_at + timedelta(seconds=1)  # the old key only verifies now

    revocation = await keys.admin().revoke(old_kid)
    assert (None, False) == (revocation.replacement, revocation.already_out)
    ring.replace_with(await keys.load())
    assert [rotation.key.kid] == kids(ring.jwks())


async def test_an_instance_whose_clock_lags_drops_the_revoked_key_too() -> None:
    clock, storage = FixedClock(), MemoryStorage()
    keys = Keys(clock, storage)
    old_kid = (await keys.load()).active_kid
    revocation = await keys.admin().revoke(old_kid)
    assert revocation.replacement is not None

    ring = await Keys(FixedClock(clock.current - CLOCK_SKEW), storage).load()
    assert ([revocation.replacement.kid], revocation.replacement.kid) == (kids(ring.jwks()), ring.active_kid)


async def test_revoking_during_a_rotation_stops_the_old_key_while_the_pending_one_keeps_its_time() -> None:
    clock = FixedClock()
    keys = Keys(clock)
    ring = await keys.load()
    old_kid = ring.active_kid
    rotation = await keys.admin().rotate()
    pending, schedule = rotation.key, rotation.schedule

    revocation = await keys.admin().revoke(old_kid)
    assert revocation.replacement is not None
    ring.replace_with(await keys.load())
    assert {revocation.replacement.kid, pending.kid} == set(kids(ring.jwks()))
    assert revocation.replacement.kid == kid_of(ring.sign(claims(clock)))
    clock.current = schedule.activates_at
    assert pending.kid == kid_of(ring.sign(claims(clock)))
    # The replacement stands in until the pending key signs, then retires like a rotated-out key.
    assert schedule.retire_previous_at == revocation.replacement.retires_at
    clock.current = schedule.retire_previous_at + timedelta(seconds=1)
    ring.replace_with(await keys.load())
    assert [pending.kid] == kids(ring.jwks())


async def test_revoking_twice_changes_nothing_the_second_time() -> None:
    clock = FixedClock()
    keys = Keys(clock)
    old_kid = (await keys.load()).active_kid
    first = await keys.admin().revoke(old_kid)
    stored = await keys.storage.list_keys()

    again = await keys.admin().revoke(old_kid)
    assert (True, None) == (again.already_out, again.replacement)
    assert stored == await keys.storage.list_keys()
    assert first.replacement is not None
    assert first.replacement.kid == (await keys.load()).active_kid


async def test_revoking_an_unknown_kid_is_an_error_that_names_it() -> None:
    keys = Keys(FixedClock())
    await keys.load()
    with pytest.raises(UnknownSigningKey, match="no signing key 'nope'"):
        await keys.admin().revoke("nope")


def stored(kid: str, activates_in: int, retires_in: int | None = None) -> StoredSigningKey:
    now = FixedClock().now()
    retires = now + timedelta(seconds=retires_in) if retires_in is not None else None
    return StoredSigningKey(kid, "ES256", b"", "{}", now, now + timedelta(seconds=activates_in), retires)


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ([stored("only", -10)], {"only": KeyState.ACTIVE}),
        (
            [stored("old", -3600, 4260), stored("new", 600)],
            {"old": KeyState.ACTIVE, "new": KeyState.PENDING},
        ),
        (
            [stored("old", -3600, 3000), stored("new", -600)],
            {"old": KeyState.RETIRING, "new": KeyState.ACTIVE},
        ),
        ([stored("gone", -7200, -1), stored("new", -600)], {"gone": KeyState.RETIRED, "new": KeyState.ACTIVE}),
        # A rotation without lead time overtook a pending key: it will never sign.
        (
            [stored("old", -3600, 3661), stored("overtaken", 600, 3661), stored("new", 1)],
            {"old": KeyState.ACTIVE, "overtaken": KeyState.RETIRING, "new": KeyState.PENDING},
        ),
    ],
)
def test_every_key_has_one_of_the_four_documented_states(
    keys: list[StoredSigningKey], expected: dict[str, KeyState]
) -> None:
    assert expected == {key.kid: state for key, state in key_states(keys, FixedClock().now())}


def test_the_readme_documents_every_key_state_and_no_other() -> None:
    """Issue 13: `horus keys list` printed a state `published` that the README did not list."""
    readme = (Path(__file__).parents[2] / "README.md").read_text("utf-8")
    section = readme[readme.index("shows each key's state:") :].split("\n- ", 1)[0].split("\n\n", 1)[0]
    assert {str(state) for state in KeyState} == set(re.findall(r"`([a-z]+)`", section))


# The property: any sequence of rotations (any lead time), revocations and time steps keeps every token that a
# key not revoked signed verifiable through the published JWKS until it expires, and some key always signs.

LEADS = st.one_of(st.just(0), st.integers(0, 30), st.integers(0, 2 * 3600))
STEPS = st.one_of(st.integers(0, int(KEY_REFRESH_SECONDS)), st.integers(0, 2 * 3600))
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("rotate"), LEADS),
        st.tuples(st.just("revoke"), st.integers(0, 50)),
        st.tuples(st.just("wait"), STEPS),
    ),
    max_size=25,
)


@dataclass
class Issued:
    token: str
    kid: str
    valid_until: int
    """exp, plus CLOCK_SKEW for a token of an instance that had read the keys at that moment."""


@dataclass
class Deployment:
    keys: Keys
    rings: list[KeyRing] = field(default_factory=list)
    issued: list[Issued] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    keys_made: int = 1

    def sign(self, ring: KeyRing, up_to_date: bool) -> None:
        token_claims = claims(self.keys.clock)
        slack = int(CLOCK_SKEW.total_seconds()) if up_to_date else 0
        token = ring.sign(token_claims)
        self.issued.append(Issued(token, kid_of(token), token_claims.exp + slack))

    async def check(self) -> None:
        now = self.keys.clock.now()
        stored = await self.keys.storage.list_keys()
        assert self.keys_made == len(stored)  # no first key had to be made again: some key could always sign
        published = {key["kid"]: key for key in (await self.keys.load()).jwks()["keys"]}
        assert set() == self.revoked & set(published)
        for issued in self.issued:
            if issued.kid in self.revoked or issued.valid_until <= now.timestamp():
                continue
            assert issued.kid in published, (issued, key_states(stored, now))
            jwt.decode(
                issued.token,
                jwt.PyJWK(published[issued.kid]),
                algorithms=["ES256"],
                audience="aud",
                options={"verify_exp": False, "verify_iat": False},
            )


@settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(operations=OPERATIONS)
async def test_any_sequence_of_rotations_revocations_and_time_keeps_unexpired_tokens_verifiable(
    operations: list[tuple[str, int]],
) -> None:
    clock = FixedClock()
    deployment = Deployment(Keys(clock))
    ring = await deployment.keys.load()
    deployment.sign(ring, up_to_date=True)
    for operation, value in operations:
        if operation == "rotate":
            await deployment.keys.admin(timedelta(seconds=value)).rotate()
            deployment.keys_made += 1
        elif operation == "revoke":
            every_key: list[Any] = list(await deployment.keys.storage.list_keys())
            kid = every_key[value % len(every_key)].kid
            revocation = await deployment.keys.admin().revoke(kid)
            deployment.keys_made += 0 if revocation.replacement is None else 1
            if not revocation.already_out:
                deployment.revoked.add(kid)
        else:
            clock.advance(value)
            if value <= KEY_REFRESH_SECONDS:  # an instance that has not re-read the keys since the last step
                deployment.sign(ring, up_to_date=False)
        ring = await deployment.keys.load()
        deployment.sign(ring, up_to_date=True)
        await deployment.check()
