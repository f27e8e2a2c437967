"""Reading a JSON request body: declared type, then one decode by msgspec, each failure its own code.

msgspec recurses per nesting level and raises RecursionError on a body nested deeper than the
interpreter allows; that is a client's mistake (400004), not a server error.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

from horus.adapters.http.error_table import (
    BODY_MISSING,
    BODY_NOT_JSON,
    BODY_NOT_OBJECT,
    BODY_TOO_DEEP,
    UNSUPPORTED_MEDIA_TYPE,
    RequestRejected,
)

JSON = "application/json"
MAX_JSON_BODY = 16 * 1024
T = TypeVar("T")


def media_type(content_type: str | None) -> str:
    return (content_type or "").partition(";")[0].strip().lower()


def unsupported_media_type(expected: str) -> RequestRejected:
    return RequestRejected(UNSUPPORTED_MEDIA_TYPE, f"the body must be sent as {expected}")


def decode_json_object(body: bytes, struct_type: type[T]) -> T:
    if not body.strip():
        raise RequestRejected(BODY_MISSING, "the request body is required")
    try:
        return msgspec.json.decode(body, type=struct_type)
    except msgspec.ValidationError:
        raise RequestRejected(BODY_NOT_OBJECT, "the body must be a JSON object") from None
    except RecursionError:
        raise RequestRejected(BODY_TOO_DEEP, "the JSON body nests too deeply") from None
    except (msgspec.DecodeError, UnicodeDecodeError):
        raise RequestRejected(BODY_NOT_JSON, "the body is not valid JSON") from None
