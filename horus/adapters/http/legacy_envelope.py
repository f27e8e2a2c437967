"""The legacy Horus envelope {code, message, content}: wire structs and error responses."""

from __future__ import annotations

import msgspec
from litestar import Response

from horus.domain.errors import ErrorCode

JSON = "application/json"


class LegacyTokenContent(msgspec.Struct):
    expiresIn: str
    accessToken: str
    tokenType: str


class LegacyEnvelope(msgspec.Struct):
    code: int
    message: str
    content: LegacyTokenContent | None


NO_STORE_HEADERS = {"cache-control": "no-store", "pragma": "no-cache"}


def envelope_response(
    code: ErrorCode,
    message: str,
    content: LegacyTokenContent | None = None,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    return Response(
        msgspec.json.encode(LegacyEnvelope(int(code), message, content)),
        status_code=code.http_status,
        media_type=JSON,
        headers={**NO_STORE_HEADERS, **(headers or {})},
    )
