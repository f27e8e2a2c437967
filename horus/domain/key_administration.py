"""Signing-key administration: what `horus keys` does, and the first key of a new storage.

A rotation publishes a new key at once and lets it sign after the lead time; a revocation takes a
compromised key out of the JWKS at once. Whatever their order, every token signed with a key that
was not revoked stays verifiable through the JWKS until it expires (the rules are in signing_key).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from horus.domain.signing_key import (
    KeyState,
    RotationSchedule,
    StoredSigningKey,
    active_key,
    is_published,
    key_states,
    revocation_plan,
    rotation_schedule,
)
from horus.ports.clock import Clock
from horus.ports.signing_keys import SigningKeyGenerator, SigningKeyRepository


class UnknownSigningKey(LookupError):
    """No stored key has this kid."""

    def __init__(self, kid: str) -> None:
        super().__init__(f"no signing key {kid!r}")
        self.kid = kid


@dataclass(frozen=True, slots=True)
class KeyStatus:
    key: StoredSigningKey
    state: KeyState


@dataclass(frozen=True, slots=True)
class KeyRotation:
    key: StoredSigningKey
    """The new key: published now, signing from schedule.activates_at."""
    schedule: RotationSchedule


@dataclass(frozen=True, slots=True)
class KeyRevocation:
    key: StoredSigningKey
    replacement: StoredSigningKey | None
    """The new key that takes the revoked one's place: signing now, or on the revoked key's schedule."""
    already_out: bool
    """The key had already left the JWKS; nothing changed."""


class KeyAdministration:
    def __init__(
        self,
        keys: SigningKeyRepository,
        generator: SigningKeyGenerator,
        clock: Clock,
        token_lifetime: timedelta,
        rotation_lead: timedelta,
    ) -> None:
        self._keys = keys
        self._generator = generator
        self._clock = clock
        self._token_lifetime = token_lifetime
        self._rotation_lead = rotation_lead

    async def statuses(self) -> list[KeyStatus]:
        """Every stored key, oldest first, with its state now. Changes nothing."""
        stored = await self._keys.list_keys()
        return [KeyStatus(key, state) for key, state in key_states(stored, self._clock.now())]

    async def rotate(self) -> KeyRotation:
        """Publishes a new key now, signs with it after the lead time, retires the others once their tokens expired.

        The new key is the last in line: a pending key of an earlier rotation that would activate after it
        never signs, and leaves the JWKS with the other older keys."""
        now = self._clock.now()
        schedule = rotation_schedule(now, self._rotation_lead, self._token_lifetime)
        previous = [key.kid for key in await self._keys.list_keys() if is_published(key, now)]
        new = self._generator.generate(created_at=now, activates_at=schedule.activates_at)
        await self._keys.add_key(new)  # first, so that some key can always sign
        await self._keys.retire_keys(previous, schedule.retire_previous_at)
        return KeyRotation(new, schedule)

    async def revoke(self, kid: str) -> KeyRevocation:
        """Takes a key out of the JWKS now, as for a compromised key; a key that was to sign gets a replacement."""
        now = self._clock.now()
        stored = await self._keys.list_keys()
        key = next((key for key in stored if key.kid == kid), None)
        if key is None:
            raise UnknownSigningKey(kid)
        plan = revocation_plan(stored, kid, now)
        if plan is None:
            return KeyRevocation(key, replacement=None, already_out=True)
        replacement = None
        if plan.replacement_activates_at is not None:  # first, so that some key can always sign
            replacement = self._generator.generate(
                created_at=now, activates_at=plan.replacement_activates_at, retires_at=plan.replacement_retires_at
            )
            await self._keys.add_key(replacement)
        await self._keys.retire_keys([kid], plan.retire_at)
        return KeyRevocation(key, replacement, already_out=False)

    async def keys_for_signing(self) -> Sequence[StoredSigningKey]:
        """The stored keys, after generating a first key (signing at once) when none can sign: a new storage."""
        now = self._clock.now()
        stored = await self._keys.list_keys()
        if active_key(stored, now) is None:
            await self._keys.add_key(self._generator.generate(created_at=now, activates_at=now))
            stored = await self._keys.list_keys()
        return stored
