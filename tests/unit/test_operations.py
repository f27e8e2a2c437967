"""/health, /ready and /metrics through the real app, on each listener, and how a serving process tunes itself.

The test client puts the request URL's host and port in scope["server"], as uvicorn puts the
listening socket's: a request to port 8081 (HORUS_OPS_PORT's default) came in on the operator listener.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from dependency_injector import providers
from litestar.testing import AsyncTestClient

from horus.adapters.storage.memory import MemoryStorage
from horus.app import YOUNG_GENERATION_THRESHOLD, create_app
from horus.domain.errors import StorageUnavailable
from horus.domain.signing_key import StoredSigningKey
from tests.conftest import make_container, make_settings

LEGACY = "/v1/nonspec/oauth2/auth/server"
OPERATOR_URL = "http://127.0.0.1:8081"

METRICS = OPERATOR_URL + "/metrics"
T = TypeVar("T")


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


class KeysUnreadable(MemoryStorage):
    """Storage whose signing keys stop being readable (say, a key the server key cannot decrypt) when told."""

    broken = False

    async def list_keys(self) -> Sequence[StoredSigningKey]:
        if self.broken:
            raise StorageUnavailable()
        return await super().list_keys()


def ready_status(response: Any) -> tuple[int, str, str, str]:
    body = response.json()
    return response.status_code, body["status"], body["storage"], body["signingKey"]


async def test_not_ready_once_the_signing_key_refresh_has_failed_for_longer_than_the_bound() -> None:
    """Issue 13: /ready said signingKey "ok" while the key refresh kept failing, so the instance went on
    signing with keys that a rotation or a revocation had replaced. Here the refresh runs every 50 ms and
    the bound is 300 ms (5 s and 30 s in service)."""
    storage = KeysUnreadable()
    container = make_container()
    container.storage.override(providers.Object(storage))
    container.config.keys.from_dict({"refresh_seconds": 0.05, "stale_after": 0.3})
    async with AsyncTestClient(app=create_app(container)) as client:  # type: ignore[arg-type]
        await asyncio.sleep(0.5)  # longer than the bound: the refresh keeps the keys current
        assert (200, "ready", "ok", "ok") == ready_status(await client.get("/ready"))
        storage.broken = True
        stale = await eventually(lambda: client.get("/ready"), lambda response: response.status_code == 503)
        assert (503, "not ready", "ok", "stale") == ready_status(stale)
        storage.broken = False
        ready = await eventually(lambda: client.get("/ready"), lambda response: response.status_code == 200)
        assert (200, "ready", "ok", "ok") == ready_status(ready)


async def eventually(attempt: Callable[[], Awaitable[T]], done: Callable[[T], bool], within: float = 5.0) -> T:
    deadline = time.monotonic() + within
    while True:
        result = await attempt()
        if done(result) or time.monotonic() >= deadline:
            return result
        await asyncio.sleep(0.02)


async def test_metrics_count_token_requests_by_outcome_and_name_no_client(client: Any, admin: Any) -> None:
    created = await (await admin()).create(client_id="svc")
    await client.post(
        LEGACY, json={"grantType": "client_credentials", "clientId": "svc", "clientSecret": created.secret}
    )
    await client.post(LEGACY, json={"grantType": "client_credentials", "clientId": "svc", "clientSecret": "nope"})
    await client.get("/no/such/path/" + "x" * 50)
    response = await client.get(METRICS)
    text = response.text
    assert 200 == response.status_code
    assert response.headers["content-type"].startswith("text/plain")
    assert 'horus_token_requests_total{endpoint="/v1/nonspec/oauth2/auth/server",outcome="200000"} 1.0' in text
    assert 'horus_token_requests_total{endpoint="/v1/nonspec/oauth2/auth/server",outcome="401122"} 1.0' in text
    assert "horus_tokens_issued_total 1.0" in text
    assert "svc" not in text
    assert 'path="other"' in text
    assert "x" * 50 not in text
    assert "horus_request_duration_seconds_bucket" in text


async def test_metrics_count_tokens_per_client_when_the_operator_turns_client_labels_on() -> None:
    container = make_container(make_settings(HORUS_METRICS_CLIENT_LABELS="true"))
    async with AsyncTestClient(app=create_app(container)) as client:  # type: ignore[arg-type]
        created = await (await container.administration.async_()).create(client_id="svc")
        body = {"grantType": "client_credentials", "clientId": "svc", "clientSecret": created.secret}
        assert 200 == (await client.post(LEGACY, json=body)).status_code
        text = (await client.get(METRICS)).text
    assert 'horus_tokens_issued_total{client_id="svc"} 1.0' in text


async def test_metrics_declare_one_charset(client: Any) -> None:
    content_type = (await client.get(METRICS)).headers["content-type"]
    assert 1 == content_type.count("charset")


async def test_metrics_are_not_served_on_the_public_listener(client: Any) -> None:
    """Issue 14: anyone could read /metrics on the public port, and with it live client ids."""
    for method in (client.get, client.head):
        response = await method("/metrics")
        assert 404 == response.status_code
    assert 404000 == (await client.get("/metrics")).json()["code"]


async def test_health_and_ready_answer_on_both_listeners(client: Any) -> None:
    for listener in ("", OPERATOR_URL):
        health, ready = await client.get(listener + "/health"), await client.get(listener + "/ready")
        assert (200, 200) == (health.status_code, ready.status_code)


async def test_metrics_on_another_port_than_the_operators_are_not_served() -> None:
    container = make_container(make_settings(HORUS_OPS_PORT="9100"))
    async with AsyncTestClient(app=create_app(container)) as client:  # type: ignore[arg-type]
        assert 404 == (await client.get(METRICS)).status_code
        assert 200 == (await client.get("http://127.0.0.1:9100/metrics")).status_code


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
