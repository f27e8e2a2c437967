"""The key ring: which key signs now, and which public keys the JWKS publishes.

Three sources, chosen by configuration: keys kept in storage (generated on first start,
encrypted under the server key), a PEM key file, or an HS256 shared secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from horus.adapters.signing.jwt_signer import JwtSigner, es256_signer, hs256_secret, hs256_signer
from horus.adapters.signing.key_material import (
    KeyEncryption,
    SigningKeyError,
    generate_es256_key,
    load_pem_key_file,
)
from horus.domain.signing_key import StoredSigningKey
from horus.domain.token import AccessTokenClaims
from horus.ports.clock import Clock
from horus.ports.signing import PublicKeySet, TokenSigner
from horus.ports.signing_keys import SigningKeyRepository


class KeyRing(TokenSigner, PublicKeySet):
    def __init__(self, signer: JwtSigner, verification_keys: Mapping[str, Any], public_jwks: Sequence[dict[str, Any]]):
        self._signer = signer
        self._verification_keys = dict(verification_keys)
        self._jwks = {"keys": list(public_jwks)}

    @property
    def algorithm(self) -> str:
        return self._signer.alg_name

    @property
    def active_kid(self) -> str:
        return self._signer.kid

    def sign(self, claims: AccessTokenClaims) -> str:
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


def active_key(keys: Sequence[StoredSigningKey], now: datetime) -> StoredSigningKey | None:
    """The newest key whose activation time has come; ties broken by kid, so every instance agrees."""
    usable = [key for key in keys if key.activates_at <= now and (key.retires_at is None or key.retires_at > now)]
    return max(usable, key=lambda key: (key.activates_at, key.kid), default=None)


async def stored_key_ring(keys: SigningKeyRepository, encryption: KeyEncryption, clock: Clock) -> KeyRing:
    now = clock.now()
    stored = await keys.list_keys()
    if active_key(stored, now) is None:
        generated = generate_es256_key()
        await keys.add_key(encryption.seal(generated, created_at=now, activates_at=now))
        stored = await keys.list_keys()
    active = active_key(stored, now)
    if active is None:
        raise SigningKeyError("no usable signing key in storage")
    published = [key for key in stored if key.retires_at is None or key.retires_at > now]
    signer = es256_signer(encryption.open(active))
    verification = {}
    for key in published:
        opened = encryption.open(key)
        verification[key.kid] = opened.private_key.public_key()
    return KeyRing(signer, verification, [json.loads(key.public_jwk) for key in published])
