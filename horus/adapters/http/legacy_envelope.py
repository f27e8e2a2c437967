"""The legacy Horus envelope {code, message, content}, fixed by the seed document."""

from __future__ import annotations

import msgspec


class LegacyTokenContent(msgspec.Struct, frozen=True):
    expiresIn: str
    accessToken: str
    tokenType: str


class LegacyEnvelope(msgspec.Struct, frozen=True):
    code: int
    message: str
    content: LegacyTokenContent | None
    """null on every error."""
