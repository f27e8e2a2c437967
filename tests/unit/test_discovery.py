"""The metadata document (RFC 8414) says only what is true of Horus, and names no client unless asked to."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from horus.app import create_app
from tests.conftest import make_container, make_settings

METADATA = "/.well-known/oauth-authorization-server"


async def metadata_of(client: Any) -> dict[str, Any]:
    response = await client.get(METADATA)
    assert 200 == response.status_code
    document: dict[str, Any] = response.json()
    return document


async def test_the_metadata_advertises_no_response_type_as_horus_has_no_authorization_endpoint(client: Any) -> None:
    """Issue 13: it advertised response_types_supported ["token"], the implicit flow. Response types are what an
    authorization endpoint answers; RFC 8414 3.2 forbids an empty list, so the member is left out."""
    document = await metadata_of(client)
    assert [] == [name for name in ("response_types_supported", "authorization_endpoint") if name in document]
    assert ["client_credentials"] == document["grant_types_supported"]


async def test_the_metadata_lists_no_scopes_by_default(client: Any, admin: Any) -> None:
    """Issue 14: the scopes of every client, readable by anyone, help find live client ids."""
    await (await admin()).create(client_id="svc", scope="invoices:read")
    assert "scopes_supported" not in await metadata_of(client)


async def test_the_metadata_lists_every_clients_scopes_when_the_operator_publishes_them() -> None:
    container = make_container(make_settings(HORUS_PUBLISH_SCOPES="true"))
    async with AsyncTestClient(app=create_app(container)) as client:  # type: ignore[arg-type]
        administration = await container.administration.async_()
        await administration.create(client_id="svc", scope="read write")
        await administration.create(client_id="other", scope="audit read")
        assert ["audit", "read", "write"] == (await metadata_of(client))["scopes_supported"]


async def test_published_scopes_are_left_out_while_no_client_has_one() -> None:
    """RFC 8414 3.2: a member with zero elements is omitted."""
    container = make_container(make_settings(HORUS_PUBLISH_SCOPES="true"))
    async with AsyncTestClient(app=create_app(container)) as client:  # type: ignore[arg-type]
        await (await container.administration.async_()).create(client_id="svc")
        assert "scopes_supported" not in await metadata_of(client)
