"""The shape of the secrets Horus generates: a fixed prefix, 256 random bits, and a checksum.

The prefix lets secret scanners find leaked secrets; the checksum lets Horus refuse a
mistyped or made-up secret of that shape before spending any hashing on it.
"""

from __future__ import annotations

import zlib

SECRET_PREFIX = "horus_sk_"
SECRET_ENTROPY_BYTES = 32
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BODY_LENGTH = 43  # ceil(256 / log2(62))
_CHECKSUM_LENGTH = 6  # ceil(32 / log2(62)); is_well_formed_generated_secret reads it as three pairs
GENERATED_SECRET_LENGTH = len(SECRET_PREFIX) + _BODY_LENGTH + _CHECKSUM_LENGTH
# Two digits at a time: the checksum's six digits back to a number in three look-ups.
_PAIR_VALUES = {a + b: 62 * i + j for i, a in enumerate(_ALPHABET) for j, b in enumerate(_ALPHABET)}


def _base62(value: int, width: int) -> str:
    digits = []
    for _ in range(width):
        value, digit = divmod(value, 62)
        digits.append(_ALPHABET[digit])
    return "".join(reversed(digits))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode("ascii")), _CHECKSUM_LENGTH)


def format_generated_secret(random_bytes: bytes) -> str:
    if len(random_bytes) < SECRET_ENTROPY_BYTES:
        raise ValueError("a generated secret needs at least 32 random bytes")
    body = _base62(int.from_bytes(random_bytes[:SECRET_ENTROPY_BYTES], "big"), _BODY_LENGTH)
    return SECRET_PREFIX + body + _checksum(body)


def has_generated_prefix(secret: str) -> bool:
    return secret.startswith(SECRET_PREFIX)


def is_well_formed_generated_secret(secret: str) -> bool:
    """True when the secret has the generated shape and its checksum matches."""
    if len(secret) != GENERATED_SECRET_LENGTH or not secret.startswith(SECRET_PREFIX):
        return False
    rest = secret[len(SECRET_PREFIX) :]
    if not (rest.isascii() and rest.isalnum()):  # exactly the alphabet's characters, in two C calls
        return False
    pairs, body = _PAIR_VALUES, _BODY_LENGTH
    checksum = (pairs[rest[body : body + 2]] * 3844 + pairs[rest[body + 2 : body + 4]]) * 3844 + pairs[rest[body + 4 :]]
    return zlib.crc32(rest[:_BODY_LENGTH].encode("ascii")) == checksum
