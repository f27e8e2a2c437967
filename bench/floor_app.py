"""The floor: the same stack as Horus (uvicorn, uvloop, httptools, Litestar) answering a JSON POST with no work."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, Response, post

BODY = b'{"code":200000,"message":"success","content":null}'


@post("/floor", status_code=200)
async def floor(request: Request[Any, Any, Any]) -> Response[bytes]:
    await request.body()
    return Response(BODY, media_type="application/json")


app = Litestar([floor], openapi_config=None, logging_config=None)
