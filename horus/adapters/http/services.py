"""What the HTTP handlers need from the application, resolved once at start-up and kept on app.state."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.datastructures import State

from horus.adapters.http.scope_catalogue import ScopeCatalogue
from horus.domain.authentication import ClientAuthenticator
from horus.domain.grant import ClientCredentialsGrant
from horus.domain.introspection import TokenIntrospection
from horus.ports.signing import PublicKeySet


@dataclass(frozen=True, slots=True)
class HttpServices:
    grant: ClientCredentialsGrant
    authenticator: ClientAuthenticator
    introspection: TokenIntrospection
    scopes: ScopeCatalogue
    public_keys: PublicKeySet
    issuer: str


SERVICES_STATE_KEY = "horus_services"


def provide_services(state: State) -> HttpServices:
    services: HttpServices = state[SERVICES_STATE_KEY]
    return services
