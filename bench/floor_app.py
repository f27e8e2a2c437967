"""The floor: the same stack as Horus (uvicorn, uvloop, httptools, Litestar) answering a JSON POST with no work.

/floor-es256 is the same endpoint plus one ES256 signature over a token-sized input, signed the
way Horus signs: the least a token endpoint that signs every token with ES256 can cost here.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from litestar import Litestar, Request, Response, post

BODY = b'{"code":200000,"message":"success","content":null}'
SIGNING_KEY = ec.generate_private_key(ec.SECP256R1())
ECDSA = ec.ECDSA(hashes.SHA256())
SIGNING_INPUT = b"x" * 330  # the length of a Horus token's header and claims segments


@post("/floor", status_code=200)
async def floor(request: Request[Any, Any, Any]) -> Response[bytes]:
    await request.body()
    return Response(BODY, media_type="application/json")


@post("/floor-es256", status_code=200)
async def floor_es256(request: Request[Any, Any, Any]) -> Response[bytes]:
    await request.body()
    SIGNING_KEY.sign(SIGNING_INPUT, ECDSA)
    return Response(BODY, media_type="application/json")


app = Litestar([floor, floor_es256], openapi_config=None, logging_config=None)
