"""Signing key material: generation, RFC 7638 thumbprints as kids, public JWKs, encryption at rest (AES-GCM)."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from jwt.algorithms import ECAlgorithm

from horus.adapters.base64url import b64url
from horus.domain.signing_key import StoredSigningKey
from horus.ports.signing_keys import SigningKeyGenerator

ES256 = "ES256"
HS256 = "HS256"


class SigningKeyError(Exception):
    """A signing key cannot be loaded, decrypted or used; the message says why, never the key."""


@dataclass(frozen=True, slots=True)
class AsymmetricKey:
    kid: str
    algorithm: str
    private_key: ec.EllipticCurvePrivateKey
    public_jwk: dict[str, Any]


def _thumbprint(public_jwk: dict[str, Any]) -> str:
    """RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace."""
    required = {name: public_jwk[name] for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True).encode()
    return b64url(hashlib.sha256(canonical).digest())


def es256_key(private_key: ec.EllipticCurvePrivateKey) -> AsymmetricKey:
    if not isinstance(private_key.curve, ec.SECP256R1):
        raise SigningKeyError("ES256 needs an EC key on curve P-256")
    jwk: dict[str, Any] = dict(ECAlgorithm.to_jwk(private_key.public_key(), as_dict=True))
    kid = _thumbprint(jwk)
    return AsymmetricKey(kid, ES256, private_key, {**jwk, "kid": kid, "alg": ES256, "use": "sig"})


def generate_es256_key() -> AsymmetricKey:
    return es256_key(ec.generate_private_key(ec.SECP256R1()))


def load_pem_key_file(path: Path) -> AsymmetricKey:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SigningKeyError(f"HORUS_SIGNING_KEY_FILE: cannot read {path}: {error.strerror}") from error
    try:
        private_key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise SigningKeyError(f"HORUS_SIGNING_KEY_FILE: {path} is not an unencrypted PEM private key") from error
    if not isinstance(private_key, ec.EllipticCurvePrivateKey):
        raise SigningKeyError(f"HORUS_SIGNING_KEY_FILE: {path} is not an EC P-256 key (ES256)")
    return es256_key(private_key)


class MismatchedPublicKey(SigningKeyError):
    """A stored key whose public half is not the public half of its (decrypted) private key: someone who can
    write to the database but does not hold the server key tried to publish a key of their own."""


PUBLIC_MEMBERS = ("kty", "crv", "x", "y", "kid")


class KeyEncryption(SigningKeyGenerator):
    """AES-256-GCM under a subkey of the server key; the kid is bound in as associated data."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def generate(
        self, created_at: datetime, activates_at: datetime, retires_at: datetime | None = None
    ) -> StoredSigningKey:
        return self.seal(generate_es256_key(), created_at, activates_at, retires_at)

    def seal(
        self, key: AsymmetricKey, created_at: datetime, activates_at: datetime, retires_at: datetime | None = None
    ) -> StoredSigningKey:
        der = key.private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        nonce = os.urandom(12)
        sealed = nonce + self._aead.encrypt(nonce, der, key.kid.encode())
        return StoredSigningKey(
            kid=key.kid,
            algorithm=key.algorithm,
            encrypted_private_key=sealed,
            public_jwk=json.dumps(key.public_jwk, separators=(",", ":"), sort_keys=True),
            created_at=created_at,
            activates_at=activates_at,
            retires_at=retires_at,
        )

    def open(self, stored: StoredSigningKey) -> AsymmetricKey:
        """The key pair, its public JWK derived from the private key; the stored public half must be that one."""
        nonce, sealed = stored.encrypted_private_key[:12], stored.encrypted_private_key[12:]
        try:
            der = self._aead.decrypt(nonce, sealed, stored.kid.encode())
        except InvalidTag as error:
            raise SigningKeyError(
                f"signing key {stored.kid} cannot be decrypted: the server key differs from the one that"
                " stored it (see README, 'The server key')"
            ) from error
        private_key = serialization.load_der_private_key(der, password=None)
        if not isinstance(private_key, ec.EllipticCurvePrivateKey):
            raise SigningKeyError(f"signing key {stored.kid} is not an EC key")
        key = es256_key(private_key)
        if _public_members(stored.public_jwk) != {name: key.public_jwk[name] for name in PUBLIC_MEMBERS}:
            raise MismatchedPublicKey(
                f"signing key {stored.kid}: the stored public key is not the public half of its private key"
            )
        return key


def _public_members(public_jwk: str) -> dict[str, Any] | None:
    try:
        parsed = json.loads(public_jwk)
    except ValueError:
        return None
    return {name: parsed.get(name) for name in PUBLIC_MEMBERS} if isinstance(parsed, dict) else None
