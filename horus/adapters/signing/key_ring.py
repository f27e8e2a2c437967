"""The key ring: which key signs now, which keys are about to, and which public keys the JWKS publishes.

Three sources, chosen by configuration: keys kept in storage (generated on first start,
encrypted under the server key, rotated with `horus keys rotate`), a PEM key file, or an
HS256 shared secret. Stored keys are re-read periodically, so every instance follows a
rotation; a key whose activation time comes between two reads takes over at the first
token signed after it, without waiting for the next read.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from horus.adapters.signing.jwt_signer import JwtSigner, es256_signer, hs256_secret, hs256_signer
from horus.adapters.signing.key_material import (
    AsymmetricKey,
    KeyEncryption,
    SigningKeyError,
    generate_es256_key,
    load_pem_key_file,
)
from horus.domain.errors import StorageUnavailable
from horus.domain.signing_key import (
    RotationSchedule,
    StoredSigningKey,
    active_key,
    is_published,
    pending_keys,
    revocation_plan,
    rotation_schedule,
)
from horus.domain.token import AccessTokenClaims
from horus.ports.clock import Clock
from horus.ports.signing import PublicKeySet
from horus.ports.signing_keys import SigningKeyRepository

KEY_REFRESH_SECONDS = 5.0
LOG = logging.getLogger("horus.keys")


class KeyRing(PublicKeySet):
    def __init__(
        self,
        signer: JwtSigner,
        verification_keys: Mapping[str, Any],
        public_jwks: Sequence[dict[str, Any]],
        upcoming: Sequence[tuple[int, JwtSigner]] = (),
    ) -> None:
        self._signer = signer
        self._verification_keys = dict(verification_keys)
        self._jwks = {"keys": list(public_jwks)}
        self._upcoming = list(upcoming)

    def replace_with(self, other: KeyRing) -> None:
        """Takes over another ring's keys in place, so everything holding this ring sees the change."""
        self._signer, self._verification_keys, self._jwks, self._upcoming = (
            other._signer,
            other._verification_keys,
            other._jwks,
            other._upcoming,
        )

    @property
    def algorithm(self) -> str:
        return self._signer.alg_name

    @property
    def active_kid(self) -> str:
        return self._signer.kid

    def sign(self, claims: AccessTokenClaims) -> str:
        while self._upcoming and claims.iat >= self._upcoming[0][0]:
            self._signer = self._upcoming.pop(0)[1]
        return self._signer.sign(claims)

    def jwks(self) -> Mapping[str, Any]:
        return self._jwks

    def verification_key(self, kid: str) -> Any | None:
        return self._verification_keys.get(kid)


def hs256_key_ring(secret_text: str) -> KeyRing:
    secret = hs256_secret(secret_text)
    signer = hs256_signer(secret)
    return KeyRing(signer, {signer.kid: secret}, [])


def key_file_ring(path: Path) -> KeyRing:
    key = load_pem_key_file(path)
    return KeyRing(es256_signer(key), {key.kid: key.private_key.public_key()}, [key.public_jwk])


@dataclass(frozen=True, slots=True)
class KeyRevocation:
    key: StoredSigningKey
    replacement: StoredSigningKey | None
    """The new key that takes the revoked one's place: signing now, or on its rotation schedule."""
    already_out: bool
    """The key had already left the JWKS; nothing changed."""


class StoredKeys:
    """Builds key rings from the keys in storage; decrypts each key once."""

    def __init__(self, keys: SigningKeyRepository, encryption: KeyEncryption, clock: Clock) -> None:
        self._keys = keys
        self._encryption = encryption
        self._clock = clock
        self._opened: dict[str, AsymmetricKey] = {}

    def _open(self, stored: StoredSigningKey) -> AsymmetricKey:
        opened = self._opened.get(stored.kid)
        if opened is None:
            opened = self._opened[stored.kid] = self._encryption.open(stored)
        return opened

    async def generate(self, activates_at: datetime | None = None) -> StoredSigningKey:
        now = self._clock.now()
        sealed = self._encryption.seal(generate_es256_key(), created_at=now, activates_at=activates_at or now)
        await self._keys.add_key(sealed)
        return sealed

    async def rotate(self, lead: timedelta, token_lifetime: timedelta) -> tuple[StoredSigningKey, RotationSchedule]:
        """Publishes a new key now, signs with it after `lead`, retires the others once their tokens expired."""
        now = self._clock.now()
        schedule = rotation_schedule(now, lead, token_lifetime)
        previous = [key.kid for key in await self._keys.list_keys() if is_published(key, now)]
        new = await self.generate(activates_at=schedule.activates_at)
        await self._keys.retire_keys(previous, schedule.retire_previous_at)
        return new, schedule

    async def revoke(self, kid: str, token_lifetime: timedelta) -> KeyRevocation:
        """Takes a key out of the JWKS now, as for a compromised key: every instance stops signing with it and
        accepting its tokens at its next read (KEY_REFRESH_SECONDS). A new key replaces it when it signs now
        (signing at once, without the rotation lead time) or was to take over from the others (same schedule)."""
        now = self._clock.now()
        stored = await self._keys.list_keys()
        key = next((key for key in stored if key.kid == kid), None)
        if key is None:
            raise SigningKeyError(f"no signing key {kid!r}; `horus keys list` shows them")
        plan = revocation_plan(stored, kid, now, token_lifetime)
        if plan is None:
            return KeyRevocation(key, replacement=None, already_out=True)
        replacement = None
        if plan.replacement_activates_at is not None:  # first, so that some key can always sign
            replacement = await self.generate(activates_at=plan.replacement_activates_at)
            if plan.replacement_retires_at is not None:
                await self._keys.retire_keys([replacement.kid], plan.replacement_retires_at)
                replacement = replace(replacement, retires_at=plan.replacement_retires_at)
        await self._keys.retire_keys([kid], plan.retire_at)
        return KeyRevocation(key, replacement, already_out=False)

    async def list_keys(self) -> Sequence[StoredSigningKey]:
        return await self._keys.list_keys()

    async def load(self) -> KeyRing:
        """The ring as storage has it now; the first key is generated when there is none to sign with."""
        now = self._clock.now()
        stored = await self._keys.list_keys()
        if active_key(stored, now) is None:
            await self.generate(activates_at=now)
            stored = await self._keys.list_keys()
        active = active_key(stored, now)
        if active is None:
            raise SigningKeyError("no usable signing key in storage")
        published = [key for key in stored if is_published(key, now)]
        upcoming = [
            (int(key.activates_at.timestamp()), es256_signer(self._open(key))) for key in pending_keys(stored, now)
        ]
        return KeyRing(
            es256_signer(self._open(active)),
            {key.kid: self._open(key).private_key.public_key() for key in published},
            [json.loads(key.public_jwk) for key in published],
            upcoming,
        )


async def stored_key_ring(keys: SigningKeyRepository, encryption: KeyEncryption, clock: Clock) -> KeyRing:
    return await StoredKeys(keys, encryption, clock).load()


async def refresh_forever(source: StoredKeys, ring: KeyRing, interval: float = KEY_REFRESH_SECONDS) -> None:
    """Follows rotations made by the CLI or another instance; a storage outage keeps the ring as it was."""
    while True:
        await asyncio.sleep(interval)
        try:
            ring.replace_with(await source.load())
        except StorageUnavailable:
            LOG.warning("signing keys not refreshed: storage unavailable")
        except SigningKeyError as error:
            LOG.error("signing keys not refreshed: %s", error)
        except Exception:  # the refresher must outlive any surprise, or rotations stop being followed
            LOG.exception("signing keys not refreshed")
