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
from collections import OrderedDict

import argon2

from horus.domain.client_secret import has_generated_prefix
from horus.ports.hashing import SecretHasher

HMAC_SCHEME = "hmac-sha256$"
ARGON2_SCHEME = "argon2id$"
MAX_CONCURRENT_ARGON2 = 2
MAX_REMEMBERED_VERIFICATIONS = 10_000


def _utf8(secret: str) -> bytes:
    """JSON may carry lone surrogates; they must hash (and fail), not crash the encoder."""
    return secret.encode("utf-8", "surrogatepass")


class SchemeSecretHasher(SecretHasher):
    def __init__(self, hmac_key: bytes, argon2_hasher: argon2.PasswordHasher | None = None) -> None:
        # One keyed state, copied per message: the hmac module's way to reuse a key (hmac.digest sets the key up
        # again on every call, 13k instructions more per token request with OpenSSL 3).
        self._keyed = hmac.new(hmac_key, digestmod=hashlib.sha256)
        self._cache_key = hmac.digest(hmac_key, b"horus/verified-cache/v1", "sha256")
        self._verified: OrderedDict[bytes, None] = OrderedDict()
        self._running: dict[bytes, asyncio.Future[bool]] = {}
        self._argon2 = argon2_hasher or argon2.PasswordHasher()
        self._dummy_hmac = self.hash_generated("horus-dummy-secret")
        self._dummy_argon2 = self.hash_imported("horus-dummy-secret")
        # Bounds the CPU an attacker can buy with wrong imported-style secrets; the rest queue.
        self._argon2_slots = asyncio.Semaphore(MAX_CONCURRENT_ARGON2)

    def hash_generated(self, secret: str) -> str:
        keyed = self._keyed.copy()
        keyed.update(_utf8(secret))
        return HMAC_SCHEME + keyed.hexdigest()

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
        remembered = self._remembered_key(client_id, candidate, secret)
        if usable and remembered in self._verified:
            self._verified.move_to_end(remembered)
            return True
        matches = await self._verify_once(remembered, candidate.removeprefix(ARGON2_SCHEME), secret)
        if usable and matches:
            self._remember(remembered)
        return usable and matches

    async def _verify_once(self, key: bytes, phc: str, secret: str) -> bool:
        """Identical concurrent verifications share one argon2id run (64 connections starting at once)."""
        running = self._running.get(key)
        if running is None:
            running = asyncio.ensure_future(self._verify_argon2(phc, secret))
            self._running[key] = running
            running.add_done_callback(lambda _: self._running.pop(key, None))
        return await asyncio.shield(running)

    def _remembered_key(self, client_id: str, stored_hash: str, secret: str) -> bytes:
        message = b"\x00".join((_utf8(client_id), stored_hash.encode("ascii", "replace"), _utf8(secret)))
        return hmac.digest(self._cache_key, message, "sha256")

    def _remember(self, key: bytes) -> None:
        self._verified[key] = None
        if len(self._verified) > MAX_REMEMBERED_VERIFICATIONS:
            self._verified.popitem(last=False)

    async def _verify_argon2(self, phc: str, secret: str) -> bool:
        async with self._argon2_slots:
            return await asyncio.to_thread(self._argon2_matches, phc, secret)

    def _argon2_matches(self, phc: str, secret: str) -> bool:
        try:
            return self._argon2.verify(phc, _utf8(secret))
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False
