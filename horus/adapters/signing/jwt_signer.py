"""RFC 9068 access tokens: compact JWS with typ at+jwt, signed through PyJWT's algorithm objects.

The header never changes for a key, so it is serialised once; per token only the claims
are encoded and signed (what jwt.encode would redo on every call).
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec
from jwt.algorithms import Algorithm, ECAlgorithm, HMACAlgorithm

from horus.adapters.signing.key_material import ES256, HS256, AsymmetricKey, SigningKeyError, b64url
from horus.domain.token import AccessTokenClaims
from horus.ports.signing import TokenSigner

TOKEN_TYPE = "at+jwt"
MIN_HS256_SECRET_BYTES = 32


class _Claims(msgspec.Struct, omit_defaults=True):
    iss: str
    sub: str
    client_id: str
    aud: str
    iat: int
    exp: int
    jti: str
    scope: str | None = None


class JwtSigner(TokenSigner):
    def __init__(self, kid: str, algorithm: Algorithm, alg_name: str, key: Any) -> None:
        self.kid = kid
        self.alg_name = alg_name
        self._algorithm = algorithm
        self._key = key
        header = msgspec.json.encode({"alg": alg_name, "kid": kid, "typ": TOKEN_TYPE})
        self._header_segment = b64url(header).encode("ascii") + b"."

    def sign(self, claims: AccessTokenClaims) -> str:
        payload = msgspec.json.encode(
            _Claims(
                claims.iss,
                claims.sub,
                claims.client_id,
                claims.aud,
                claims.iat,
                claims.exp,
                claims.jti,
                claims.scope,
            )
        )
        signing_input = self._header_segment + b64url(payload).encode("ascii")
        signature = self._algorithm.sign(signing_input, self._key)
        return (signing_input + b"." + b64url(signature).encode("ascii")).decode("ascii")


def es256_signer(key: AsymmetricKey) -> JwtSigner:
    return JwtSigner(key.kid, ECAlgorithm(ECAlgorithm.SHA256), ES256, key.private_key)


def hs256_kid(secret: bytes) -> str:
    """Names the shared secret without revealing it: a truncated hash, domain-separated."""
    return b64url(hashlib.sha256(b"horus-hs256-kid:" + secret).digest())[:16]


def hs256_secret(text: str) -> bytes:
    secret = text.encode("utf-8")
    if len(secret) < MIN_HS256_SECRET_BYTES:
        raise SigningKeyError(f"HORUS_SIGNING_SECRET must be at least {MIN_HS256_SECRET_BYTES} bytes for HS256")
    return secret


def hs256_signer(secret: bytes) -> JwtSigner:
    return JwtSigner(hs256_kid(secret), HMACAlgorithm(HMACAlgorithm.SHA256), HS256, secret)
