"""The floor: the same stack as Horus (uvicorn, uvloop, httptools, Litestar) answering a JSON POST with no work.

/floor-es256 is the same endpoint plus one ES256 signature over a token-sized input, signed the
way Horus signs (cryptography directly, the signatures of one loop turn in one batch, through
Horus's own BatchedSigner): the least a token endpoint that signs every token with ES256 can
cost here.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from litestar import Litestar, Request, Response, post

from horus.adapters.signing.batched_signer import BatchedSigner

BODY = b'{"code":200000,"message":"success","content":null}'
SIGNING_KEY = ec.generate_private_key(ec.SECP256R1())
ECDSA = ec.ECDSA(Prehashed(hashes.SHA256()))
SIGNING_INPUT = b"x" * 330  # the length of a Horus token's header and claims segments
SIGNER = BatchedSigner(lambda claims: SIGNING_KEY.sign(hashlib.sha256(SIGNING_INPUT).digest(), ECDSA).hex())


@post("/floor", status_code=200)
async def floor(request: Request[Any, Any, Any]) -> Response[bytes]:
    await request.body()
    return Response(BODY, media_type="application/json")


@post("/floor-es256", status_code=200)
async def floor_es256(request: Request[Any, Any, Any]) -> Response[bytes]:
    await request.body()
    await SIGNER.sign(None)  # type: ignore[arg-type]  # the claims are not needed: the input is fixed
    return Response(BODY, media_type="application/json")


app = Litestar([floor, floor_es256], openapi_config=None, logging_config=None)
