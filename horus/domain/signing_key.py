"""A signing key as it is kept in storage: public half in the clear, private half encrypted under the server key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class StoredSigningKey:
    kid: str
    algorithm: str
    encrypted_private_key: bytes
    public_jwk: str
    """The public JWK as JSON text, published as it is."""
    created_at: datetime
    activates_at: datetime
    """Published from created_at, used for signing from activates_at (the rotation lead time)."""
    retires_at: datetime | None = None
    """Removed from the JWKS after this; set when a newer key takes over."""


# Tokens may be checked up to this long after their exp by resource servers with slow clocks.
CLOCK_SKEW = timedelta(seconds=60)


def is_published(key: StoredSigningKey, now: datetime) -> bool:
    """In the JWKS from creation (the rotation lead time) until retirement."""
    return key.retires_at is None or key.retires_at > now


def active_key(keys: Sequence[StoredSigningKey], now: datetime) -> StoredSigningKey | None:
    """The newest published key whose activation time has come; ties broken by kid so every instance agrees."""
    usable = [key for key in keys if key.activates_at <= now and is_published(key, now)]
    return max(usable, key=lambda key: (key.activates_at, key.kid), default=None)


def pending_keys(keys: Sequence[StoredSigningKey], now: datetime) -> list[StoredSigningKey]:
    """Published keys that start signing later, soonest first."""
    return sorted(
        (key for key in keys if key.activates_at > now and is_published(key, now)),
        key=lambda key: (key.activates_at, key.kid),
    )


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
    """A new key is needed when the revoked one signs now or was to sign last; None: no new key."""
    replacement_retires_at: datetime | None = None
    """Set when a pending key takes over from the replacement later."""


def revocation_plan(
    keys: Sequence[StoredSigningKey], kid: str, now: datetime, token_lifetime: timedelta
) -> RevocationPlan | None:
    """What revoking `kid` (a compromised key) changes; None when it has already left the JWKS.

    Whatever is revoked, some key signs now and the newest key never retires: a rotation retires the
    keys before it on the assumption that its new key takes over, and that must stay true.
    """
    published = [key for key in keys if is_published(key, now)]
    key = next((key for key in published if key.kid == kid), None)
    if key is None:
        return None
    retire_at = now - CLOCK_SKEW
    others = [other for other in published if other.kid != kid]
    # Signs from a moment every instance has reached, and after every other usable key, so it is the one chosen.
    takes_over_now = max(
        [retire_at, *(other.activates_at + timedelta(microseconds=1) for other in others if other.activates_at <= now)]
    )
    newest = max(published, key=lambda each: (each.activates_at, each.kid))
    current = active_key(published, now)
    if key is newest:
        starts = key.activates_at if key.activates_at > now else takes_over_now
        return RevocationPlan(retire_at, starts)
    if current is not None and current.kid == kid:
        successor = pending_keys(others, now)[0]  # exists: the newest key is pending
        return RevocationPlan(retire_at, takes_over_now, retirement_after(successor.activates_at, token_lifetime))
    return RevocationPlan(retire_at, None)
