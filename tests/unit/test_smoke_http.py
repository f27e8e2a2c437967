from __future__ import annotations

LEGACY = "/v1/nonspec/oauth2/auth/server"


async def test_created_client_gets_a_token(client, admin) -> None:
    created = await (await admin()).create(name="svc")
    response = await client.post(
        LEGACY,
        json={"grantType": "client_credentials", "clientId": created.client.client_id, "clientSecret": created.secret},
    )
    assert response.status_code == 200
    assert response.json()["code"] == 200000
