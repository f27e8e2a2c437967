"""Client secret hashes, stored with a scheme prefix so that schemes can be added later.

    hmac-sha256$<hex>   secrets Horus generated (>= 256 bits): HMAC-SHA256 under a server subkey
    argon2id$<phc>      imported secrets: argon2id at argon2-cffi's default parameters

Which scheme a request goes through is decided by the presented secret's shape, never by
the stored record, so unknown, wrong and disabled clients cost the same time.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac

import argon2

from horus.domain.client_secret import has_generated_prefix
from horus.ports.hashing import SecretHasher

HMAC_SCHEME = "hmac-sha256$"
ARGON2_SCHEME = "argon2id$"
MAX_CONCURRENT_ARGON2 = 2


def _utf8(secret: str) -> bytes:
    """JSON may carry lone surrogates; they must hash (and fail), not crash the encoder."""
    return secret.encode("utf-8", "surrogatepass")


class SchemeSecretHasher(SecretHasher):
    def __init__(self, hmac_key: bytes, argon2_hasher: argon2.PasswordHasher | None = None) -> None:
        self._hmac_key = hmac_key
        self._argon2 = argon2_hasher or argon2.PasswordHasher()
        self._dummy_hmac = self.hash_generated("horus-dummy-secret")
        self._dummy_argon2 = self.hash_imported("horus-dummy-secret")
        # Bounds the CPU an attacker can buy with wrong imported-style secrets; the rest queue.
        self._argon2_slots = asyncio.Semaphore(MAX_CONCURRENT_ARGON2)

    def _hmac_hex(self, secret: str) -> str:
        return hmac.new(self._hmac_key, _utf8(secret), hashlib.sha256).hexdigest()

    def hash_generated(self, secret: str) -> str:
        return HMAC_SCHEME + self._hmac_hex(secret)

    def hash_imported(self, secret: str) -> str:
        return ARGON2_SCHEME + self._argon2.hash(_utf8(secret))

    async def verify(self, client_id: str, secret: str, stored_hash: str | None) -> bool:
        if has_generated_prefix(secret):
            usable = stored_hash is not None and stored_hash.startswith(HMAC_SCHEME)
            candidate = stored_hash if usable and stored_hash else self._dummy_hmac
            matches = hmac.compare_digest(self.hash_generated(secret), candidate)
            return usable and matches
        usable = stored_hash is not None and stored_hash.startswith(ARGON2_SCHEME)
        candidate = stored_hash if usable and stored_hash else self._dummy_argon2
        matches = await self._verify_argon2(candidate.removeprefix(ARGON2_SCHEME), secret)
        return usable and matches

    async def _verify_argon2(self, phc: str, secret: str) -> bool:
        async with self._argon2_slots:
            return await asyncio.to_thread(self._argon2_matches, phc, secret)

    def _argon2_matches(self, phc: str, secret: str) -> bool:
        try:
            return self._argon2.verify(phc, _utf8(secret))
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False
