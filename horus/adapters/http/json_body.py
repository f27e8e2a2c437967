"""Reading a JSON request body safely: declared type, size, UTF-8, nesting depth, then decoding.

msgspec recurses per nesting level, and a deeply nested body would end in a RecursionError
(a 500 in a stock handler). Bodies are capped at 16 KiB, so a bounded scan is cheap, and it
only runs when the body has enough brackets to be deep at all.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

from horus.domain.errors import ErrorCode, InvalidRequest

MAX_JSON_BODY = 16 * 1024
MAX_DEPTH = 32
T = TypeVar("T")


class UnsupportedMediaType(Exception):
    def __init__(self, expected: str) -> None:
        super().__init__(f"the body must be sent as {expected}")


def media_type(content_type: str | None) -> str:
    return (content_type or "").partition(";")[0].strip().lower()


def nesting_depth_exceeds(body: bytes, limit: int) -> bool:
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def decode_json_object(body: bytes, struct_type: type[T]) -> T:
    if not body.strip():
        raise InvalidRequest("the request body is required", ErrorCode.BODY_MISSING)
    if nesting_depth_exceeds(body, MAX_DEPTH):
        raise InvalidRequest(f"the JSON body nests deeper than {MAX_DEPTH} levels", ErrorCode.BODY_TOO_DEEP)
    try:
        return msgspec.json.decode(body, type=struct_type)
    except msgspec.ValidationError:
        raise InvalidRequest("the body must be a JSON object", ErrorCode.BODY_NOT_OBJECT) from None
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        raise InvalidRequest("the body is not valid JSON", ErrorCode.BODY_NOT_JSON) from None
