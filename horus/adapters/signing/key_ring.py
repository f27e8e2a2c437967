"""The key ring: which key signs now, which keys are about to, and which public keys the JWKS publishes.

Three sources, chosen by configuration: keys kept in storage (generated on first start,
encrypted under the server key, rotated with `horus keys rotate`), a PEM key file, or an
HS256 shared secret. Stored keys are re-read periodically, so every instance follows a
rotation; a key due to take over between two reads does so at the first token signed after
its time, without waiting for the next read. Which key signs when is the domain's rule
(signing_key.signing_timeline); this module holds only key material.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from horus.adapters.signing.jwt_signer import JwtSigner, es256_signer, hs256_secret, hs256_signer
from horus.adapters.signing.key_material import AsymmetricKey, KeyEncryption, SigningKeyError, load_pem_key_file
from horus.domain.errors import StorageUnavailable
from horus.domain.key_administration import KeyAdministration
from horus.domain.signing_key import StoredSigningKey, is_published, signing_timeline
from horus.domain.token import AccessTokenClaims
from horus.ports.clock import Clock
from horus.ports.signing import PublicKeySet
from horus.ports.signing_keys import SigningKeyRepository

KEY_REFRESH_SECONDS = 5.0
KEYS_STALE_AFTER_SECONDS = 30.0
"""Keys not re-read for this long (six refreshes failed in a row) make /ready answer 503."""
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


class StoredKeys:
    """Builds key rings from the keys in storage; decrypts each key once (again if its row changes).

    What is published and what verifies is derived from each decrypted private key, never taken from the
    stored public half. A key whose stored public half differs, or that cannot be decrypted, is left out
    with an error logged; when it signs now or is due to sign, no ring is built at all: Horus refuses to
    start, and a running instance keeps the keys it has, until `horus keys revoke KID` replaces it.
    """

    def __init__(self, administration: KeyAdministration, encryption: KeyEncryption, clock: Clock) -> None:
        self._administration = administration
        self._encryption = encryption
        self._clock = clock
        self._opened: dict[str, tuple[tuple[bytes, str], AsymmetricKey]] = {}
        self._reported: set[str] = set()
        self._loaded_at = -float("inf")

    def loaded_within(self, seconds: float) -> bool:
        """Whether a ring was built from storage within the last `seconds`: the refresh keeps up."""
        return time.monotonic() - self._loaded_at <= seconds

    def _open(self, stored: StoredSigningKey) -> AsymmetricKey:
        row = (stored.encrypted_private_key, stored.public_jwk)
        cached = self._opened.get(stored.kid)
        if cached is None or cached[0] != row:
            cached = self._opened[stored.kid] = (row, self._encryption.open(stored))
        return cached[1]

    async def load(self) -> KeyRing:
        """The ring as storage has it now; the first key is generated when there is none to sign with."""
        stored = await self._administration.keys_for_signing()
        now = self._clock.now()
        published = [key for key in stored if is_published(key, now)]
        timeline = signing_timeline(published, now)
        if not timeline or timeline[0][0] != now:
            raise SigningKeyError("no usable signing key in storage")
        signers = {key.kid for _, key in timeline}
        opened: dict[str, AsymmetricKey] = {}
        for key in published:
            try:
                opened[key.kid] = self._open(key)
            except SigningKeyError as error:
                if key.kid in signers:
                    raise
                if key.kid not in self._reported:
                    self._reported.add(key.kid)
                    LOG.error("signing key %s left out of the JWKS: %s", key.kid, error)
        (_, current), *later = timeline
        ring = KeyRing(
            es256_signer(opened[current.kid]),
            {kid: key.private_key.public_key() for kid, key in opened.items()},
            [key.public_jwk for key in opened.values()],
            [(int(moment.timestamp()), es256_signer(opened[key.kid])) for moment, key in later],
        )
        self._loaded_at = time.monotonic()
        return ring


async def stored_key_ring(keys: SigningKeyRepository, encryption: KeyEncryption, clock: Clock) -> KeyRing:
    """A ring over `keys` with the default lifetimes: for tests and tools that need nothing else."""
    administration = KeyAdministration(keys, encryption, clock, timedelta(seconds=3600), timedelta(seconds=600))
    return await StoredKeys(administration, encryption, clock).load()


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
