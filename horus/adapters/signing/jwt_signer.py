"""RFC 9068 access tokens: compact JWS with typ at+jwt.

The header never changes for a key, so it is serialised once; per token only the claims
are encoded and signed (what jwt.encode would redo on every call). ES256 signs with
cryptography directly, the call PyJWT's ECAlgorithm makes, and keeps the low s (see
jwt_verifier: one token, one encoding); HS256 goes through PyJWT's algorithm. Tokens are
verified with PyJWT (tests and jwt_verifier), so both stay one format.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import msgspec
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature
from jwt.algorithms import HMACAlgorithm

from horus.adapters.base64url import b64url, b64url_bytes
from horus.adapters.signing.key_material import ES256, HS256, AsymmetricKey, SigningKeyError
from horus.domain.token import AccessTokenClaims

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


class JwtSigner:
    def __init__(self, kid: str, alg_name: str, signature: Callable[[bytes], bytes]) -> None:
        self.kid = kid
        self.alg_name = alg_name
        self._signature = signature
        header = msgspec.json.encode({"alg": alg_name, "kid": kid, "typ": TOKEN_TYPE})
        self._header_segment = b64url_bytes(header) + b"."

    def sign(self, claims: AccessTokenClaims) -> str:
        iss, sub, client_id, aud, iat, exp, jti, _ = claims
        payload = msgspec.json.encode(_Claims(iss, sub, client_id, aud, iat, exp, jti, claims.scope))
        signing_input = self._header_segment + b64url_bytes(payload)
        return (signing_input + b"." + b64url_bytes(self._signature(signing_input))).decode("ascii")


# The order of P-256's group (SEC 2, secp256r1 "n"). With (r, s), (r, n - s) is a valid ECDSA signature too.
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def es256_signer(key: AsymmetricKey) -> JwtSigner:
    private_key = key.private_key  # es256_key has checked the curve
    # Hashed with hashlib first: the same signature, 3k instructions (1%) less than cryptography hashing it.
    ecdsa = ec.ECDSA(Prehashed(hashes.SHA256()))
    sha256 = hashlib.sha256

    def signature(signing_input: bytes) -> bytes:
        """JWS's R || S (RFC 7518 3.4) with the low s of the two valid ones, the only form the verifier accepts:
        so that a token has exactly one encoding."""
        r, s = decode_dss_signature(private_key.sign(sha256(signing_input).digest(), ecdsa))
        return r.to_bytes(32, "big") + min(s, P256_ORDER - s).to_bytes(32, "big")

    return JwtSigner(key.kid, ES256, signature)


def hs256_kid(secret: bytes) -> str:
    """Names the shared secret without revealing it: a truncated hash, domain-separated."""
    return b64url(hashlib.sha256(b"horus-hs256-kid:" + secret).digest())[:16]


def hs256_secret(text: str) -> bytes:
    secret = text.encode("utf-8")
    if len(secret) < MIN_HS256_SECRET_BYTES:
        raise SigningKeyError(f"HORUS_SIGNING_SECRET must be at least {MIN_HS256_SECRET_BYTES} bytes for HS256")
    return secret


def hs256_signer(secret: bytes) -> JwtSigner:
    algorithm = HMACAlgorithm(HMACAlgorithm.SHA256)
    return JwtSigner(hs256_kid(secret), HS256, lambda signing_input: algorithm.sign(signing_input, secret))
