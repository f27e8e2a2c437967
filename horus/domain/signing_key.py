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


def rotation_schedule(now: datetime, lead: timedelta, token_lifetime: timedelta) -> RotationSchedule:
    activates_at = now + lead
    return RotationSchedule(activates_at, activates_at + token_lifetime + CLOCK_SKEW)
