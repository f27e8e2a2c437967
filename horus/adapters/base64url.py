"""base64url without padding (RFC 7515 section 2), as JWS, JWKS and ids use it.

binascii and one translate: base64.urlsafe_b64encode goes through two Python wrappers and a
second translation for the same bytes, on every token.
"""

from __future__ import annotations

import binascii

_URLSAFE = bytes.maketrans(b"+/", b"-_")


def b64url_bytes(data: bytes) -> bytes:
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=")


def b64url(data: bytes) -> str:
    return b64url_bytes(data).decode("ascii")
