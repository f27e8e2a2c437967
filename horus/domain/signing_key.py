"""Signing keys over time: which key signs when, which keys the JWKS publishes, and what a rotation or a
revocation changes. Pure rules; the use cases that apply them are in key_administration.

The one promise every rule here keeps: a token stays verifiable through the JWKS until it expires
(plus CLOCK_SKEW), unless its key was revoked. So a key signs at a moment only while a token signed
then expires before the key leaves the JWKS, and of the keys that may sign, the one published longest
signs: that is the key the latest rotation (or a revocation's replacement) put last in line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class StoredSigningKey:
    kid: str
    algorithm: str
    encrypted_private_key: bytes
    public_jwk: str
    """The public JWK as JSON text, as stored. Never published as it is: the published JWK is derived from the
    decrypted private key, and a key whose stored public half differs from it is refused."""
    created_at: datetime
    activates_at: datetime
    """Published from created_at, signs from activates_at on (the rotation lead time)."""
    retires_at: datetime | None = None
    """Leaves the JWKS at this time; set when another key takes over (or the key is revoked)."""


# Tokens may be checked up to this long after their exp by resource servers with slow clocks, and an instance
# may follow a change this late (its clock lags, or it has not re-read the keys yet).
CLOCK_SKEW = timedelta(seconds=60)
_NEVER = datetime.max.replace(tzinfo=UTC)


class KeyState(StrEnum):
    """What `horus keys list` shows for each key, at the moment it is asked."""

    ACTIVE = "active"
    """In the JWKS and signing the tokens issued now."""
    PENDING = "pending"
    """In the JWKS and due to sign later: from its activation, or when the key before it hands over."""
    RETIRING = "retiring"
    """In the JWKS so that the tokens it signed keep verifying; it signs no more (or never will: a later rotation
    overtook it before its activation). Leaves at retires_at."""
    RETIRED = "retired"
    """Out of the JWKS: every token it signed has expired, or it was revoked."""


def is_published(key: StoredSigningKey, now: datetime) -> bool:
    """In the JWKS from creation (the rotation lead time) until retirement."""
    return key.retires_at is None or key.retires_at > now


def _rank(key: StoredSigningKey) -> tuple[datetime, datetime, str]:
    """Published longest first; then the latest activation, then the kid, so that every instance agrees."""
    return (key.retires_at or _NEVER, key.activates_at, key.kid)


def active_key(keys: Sequence[StoredSigningKey], now: datetime) -> StoredSigningKey | None:
    """The key that signs at `now`: of the published keys whose activation has come, the one published longest.

    A rotation retires every older key at its new key's activation plus a token lifetime, and the new key
    has no retirement: from its activation on it outranks them. Before that, the older key published
    longest signs, which is the one that took over last. A pending key that a later rotation overtook
    (activating after the new key) has the older keys' retirement, so it never signs at all.
    """
    usable = [key for key in keys if key.activates_at <= now and is_published(key, now)]
    return max(usable, key=_rank, default=None)


def signing_timeline(keys: Sequence[StoredSigningKey], now: datetime) -> list[tuple[datetime, StoredSigningKey]]:
    """Which key signs from when, as the stored keys stand: the active key at `now`, then each change to come."""
    changes = sorted(
        {key.activates_at for key in keys if key.activates_at > now}
        | {key.retires_at for key in keys if key.retires_at is not None and key.retires_at > now}
    )
    timeline: list[tuple[datetime, StoredSigningKey]] = []
    for moment in [now, *changes]:
        key = active_key(keys, moment)
        if key is not None and (not timeline or timeline[-1][1].kid != key.kid):
            timeline.append((moment, key))
    return timeline


def key_states(keys: Sequence[StoredSigningKey], now: datetime) -> list[tuple[StoredSigningKey, KeyState]]:
    """Each key with its state at `now`, in the order given."""
    timeline = signing_timeline(keys, now)
    current = timeline[0][1].kid if timeline and timeline[0][0] == now else None
    later = {key.kid for moment, key in timeline if moment > now}

    def state(key: StoredSigningKey) -> KeyState:
        if not is_published(key, now):
            return KeyState.RETIRED
        if key.kid == current:
            return KeyState.ACTIVE
        return KeyState.PENDING if key.kid in later else KeyState.RETIRING

    return [(key, state(key)) for key in keys]


@dataclass(frozen=True, slots=True)
class RotationSchedule:
    activates_at: datetime
    """When the new key starts signing: after the lead time, so cached JWKS already hold it."""
    retire_previous_at: datetime
    """When older keys leave the JWKS: once every token they signed has expired."""


def retirement_after(successor_activates_at: datetime, token_lifetime: timedelta) -> datetime:
    """When keys a successor takes over from may leave the JWKS: once every token they signed has expired."""
    return successor_activates_at + token_lifetime + CLOCK_SKEW


def rotation_schedule(now: datetime, lead: timedelta, token_lifetime: timedelta) -> RotationSchedule:
    activates_at = now + lead
    return RotationSchedule(activates_at, retirement_after(activates_at, token_lifetime))


@dataclass(frozen=True, slots=True)
class RevocationPlan:
    retire_at: datetime
    """In the past by CLOCK_SKEW: an instance whose clock lags drops the key at its next read too."""
    replacement_activates_at: datetime | None
    """None: no new key is needed (the revoked key was not going to sign again)."""
    replacement_retires_at: datetime | None = None
    """The revoked key's own retirement: the replacement takes its place in line, and hands over when it would."""


def revocation_plan(keys: Sequence[StoredSigningKey], kid: str, now: datetime) -> RevocationPlan | None:
    """What revoking `kid` (a compromised key) changes; None when it has already left the JWKS.

    A key that signs now or is due to sign later gets a replacement that takes its place in the
    timeline: signing at once (from a moment every instance has reached) when the revoked key signs
    now, else from the revoked key's activation; retiring when the revoked key would have. So the
    schedule of every other key, and the promise that keeps their tokens verifiable, is unchanged.
    """
    published = [key for key in keys if is_published(key, now)]
    key = next((key for key in published if key.kid == kid), None)
    if key is None:
        return None
    retire_at = now - CLOCK_SKEW
    if kid not in {each.kid for _, each in signing_timeline(published, now)}:
        return RevocationPlan(retire_at, None)
    starts = key.activates_at if key.activates_at > now else retire_at
    return RevocationPlan(retire_at, starts, key.retires_at)
