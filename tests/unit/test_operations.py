"""/health, /ready and /metrics through the real app, and how a serving process tunes itself."""

from __future__ import annotations

import gc
from typing import Any

from dependency_injector import providers
from litestar.testing import AsyncTestClient

from horus.adapters.storage.memory import MemoryStorage
from horus.app import YOUNG_GENERATION_THRESHOLD, create_app
from horus.domain.errors import StorageUnavailable
from tests.conftest import make_container

LEGACY = "/v1/nonspec/oauth2/auth/server"


async def test_health_says_the_process_is_up(client: Any) -> None:
    response = await client.get("/health")
    assert (200, {"status": "ok"}) == (response.status_code, response.json())


async def test_ready_when_storage_answers_and_a_key_is_loaded(client: Any) -> None:
    response = await client.get("/ready")
    assert (200, {"status": "ready", "storage": "ok", "signingKey": "ok"}) == (response.status_code, response.json())


class UnreachableStorage(MemoryStorage):
    async def ping(self) -> None:
        raise StorageUnavailable()


async def test_not_ready_when_storage_is_unreachable() -> None:
    container = make_container()
    container.storage.override(providers.Object(UnreachableStorage()))
    async with AsyncTestClient(app=create_app(container)) as client:  # type: ignore[arg-type]
        response = await client.get("/ready")
    assert (503, "not ready", "unreachable") == (
        response.status_code,
        response.json()["status"],
        response.json()["storage"],
    )


async def test_metrics_count_token_requests_by_outcome_and_client(client: Any, admin: Any) -> None:
    created = await (await admin()).create(client_id="svc")
    await client.post(
        LEGACY, json={"grantType": "client_credentials", "clientId": "svc", "clientSecret": created.secret}
    )
    await client.post(LEGACY, json={"grantType": "client_credentials", "clientId": "svc", "clientSecret": "nope"})
    await client.get("/no/such/path/" + "x" * 50)
    response = await client.get("/metrics")
    text = response.text
    assert 200 == response.status_code
    assert response.headers["content-type"].startswith("text/plain")
    assert 'horus_token_requests_total{endpoint="/v1/nonspec/oauth2/auth/server",outcome="200000"} 1.0' in text
    assert 'horus_token_requests_total{endpoint="/v1/nonspec/oauth2/auth/server",outcome="401122"} 1.0' in text
    assert 'horus_tokens_issued_total{client_id="svc"} 1.0' in text
    assert 'path="other"' in text
    assert "x" * 50 not in text
    assert "horus_request_duration_seconds_bucket" in text


async def test_metrics_declare_one_charset(client: Any) -> None:
    content_type = (await client.get("/metrics")).headers["content-type"]
    assert 1 == content_type.count("charset")


async def test_head_works_wherever_get_does_and_has_no_body(client: Any) -> None:
    for path in ("/health", "/.well-known/jwks.json", "/.well-known/oauth-authorization-server"):
        get, head = await client.get(path), await client.head(path)
        assert (200, b"") == (head.status_code, head.content)
        assert get.headers["content-length"] == head.headers["content-length"]
        assert head.headers["x-horus-request-id"]


async def test_a_serving_process_freezes_start_up_objects_and_collects_young_ones_less_often() -> None:
    threshold = gc.get_threshold()
    try:
        async with AsyncTestClient(app=create_app(make_container())) as client:  # type: ignore[arg-type]
            await client.get("/health")
            assert (threshold, 0) == (gc.get_threshold(), gc.get_freeze_count())  # an embedding app: untouched
        async with AsyncTestClient(app=create_app(make_container(), serving=True)) as client:  # type: ignore[arg-type]
            assert 200 == (await client.get("/health")).status_code
            assert YOUNG_GENERATION_THRESHOLD == gc.get_threshold()[0]
            assert gc.get_freeze_count() > 10_000  # the modules, at least
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
