"""Verifying Horus access tokens: only the configured algorithm, only our keys, issuer and audience.

Everything a hostile token can try (alg none, HS256 keyed with a public key, unknown or
injected kid, jku/x5u/jwk headers, foreign iss/aud, another typ, JWE, huge input) ends in
None, never in an exception. So does a signature in another encoding than the one Horus
signs (padded, stray bits, another length, or ES256's high s, which verifies as well as the
low one): introspection and resource servers see each token in one form only.
"""

from __future__ import annotations

import base64
from typing import Any

import jwt

from horus.adapters.base64url import b64url
from horus.adapters.signing.jwt_signer import P256_ORDER
from horus.adapters.signing.key_material import ES256, HS256
from horus.adapters.signing.key_ring import KeyRing
from horus.domain.token import AccessTokenClaims
from horus.ports.clock import Clock
from horus.ports.verification import TokenVerifier

MAX_TOKEN_LENGTH = 8192
ACCEPTED_TYPES = frozenset({"at+jwt", "application/at+jwt"})
REFUSED_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "crit", "enc", "zip"})
CLOCK_SKEW_SECONDS = 60
REQUIRED_CLAIMS = ["iss", "sub", "aud", "exp", "iat", "jti", "client_id"]
SIGNATURE_BYTES = {ES256: 64, HS256: 32}


def is_canonical_signature(segment: str, algorithm: str) -> bool:
    """The one encoding Horus signs: unpadded base64url with its unused bits zero, the algorithm's length,
    and for ES256 r and s in range with s in the lower half (RFC 7518 3.4 allows either s; we sign the low one).
    """
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except ValueError:
        return False
    if len(raw) != SIGNATURE_BYTES.get(algorithm) or b64url(raw) != segment:
        return False
    if algorithm == ES256:
        r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        return 0 < r < P256_ORDER and 0 < s <= P256_ORDER // 2
    return True


class JwtVerifier(TokenVerifier):
    def __init__(self, key_ring: KeyRing, issuer: str, audience: str, clock: Clock) -> None:
        self._key_ring = key_ring
        self._issuer = issuer
        self._audience = audience
        self._clock = clock

    def verify(self, token: str) -> AccessTokenClaims | None:
        """The claims of a valid, unexpired token of this issuer; None for anything else."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
            return None
        try:
            header = jwt.get_unverified_header(token)
            if (
                header.get("alg") != self._key_ring.algorithm
                or header.get("typ") not in ACCEPTED_TYPES
                or REFUSED_HEADERS.intersection(header)
                or not isinstance(header.get("kid"), str)
                or not is_canonical_signature(token[token.rindex(".") + 1 :], self._key_ring.algorithm)
            ):
                return None
            key = self._key_ring.verification_key(header["kid"])
            if key is None:
                return None
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[self._key_ring.algorithm],
                audience=self._audience,
                issuer=self._issuer,
                options={
                    "require": REQUIRED_CLAIMS,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        now = self._clock.now().timestamp()
        exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf", 0)
        if not all(isinstance(value, int) and not isinstance(value, bool) for value in (exp, iat, nbf)):
            return None
        if exp <= now or iat > now + CLOCK_SKEW_SECONDS or nbf > now + CLOCK_SKEW_SECONDS:  # type: ignore[operator]
            return None
        return _as_claims(claims)


def _as_claims(claims: dict[str, Any]) -> AccessTokenClaims | None:
    texts = [claims.get(name) for name in ("iss", "sub", "client_id", "aud", "jti")]
    scope = claims.get("scope", "")
    if not all(isinstance(text, str) for text in texts) or not isinstance(scope, str):
        return None
    iss, sub, client_id, aud, jti = texts
    return AccessTokenClaims(
        iss=iss,  # type: ignore[arg-type]
        sub=sub,  # type: ignore[arg-type]
        client_id=client_id,  # type: ignore[arg-type]
        aud=aud,  # type: ignore[arg-type]
        iat=claims["iat"],
        exp=claims["exp"],
        jti=jti,  # type: ignore[arg-type]
        scopes=tuple(scope.split()),
    )
