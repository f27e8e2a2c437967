"""What the HTTP handlers need from the application, resolved once at start-up and kept on app.state."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from litestar import Request

from horus.adapters.http.client_address import NO_PROXIES, TrustedProxies
from horus.adapters.http.scope_catalogue import ScopeCatalogue
from horus.adapters.observability.metrics import Metrics
from horus.domain.authentication import ClientAuthenticator
from horus.domain.grant import ClientCredentialsGrant
from horus.domain.introspection import TokenIntrospection
from horus.ports.signing import PublicKeySet


@dataclass(frozen=True, slots=True)
class HttpServices:
    grant: ClientCredentialsGrant
    authenticator: ClientAuthenticator
    introspection: TokenIntrospection
    scopes: ScopeCatalogue | None
    """None unless the operator publishes the scopes in the metadata (HORUS_PUBLISH_SCOPES)."""
    public_keys: PublicKeySet
    issuer: str
    storage_ping: Callable[[], Awaitable[None]]
    metrics: Metrics
    trusted_proxies: TrustedProxies = NO_PROXIES
    operator_port: int | None = None
    """The port of the operator listener; None: the operator routes are served nowhere."""
    signing_keys_current: Callable[[], bool] = lambda: True
    """False when the signing keys have not been re-read from storage for too long (see /ready)."""


SERVICES_STATE_KEY = "horus_services"


def services_of(request: Request[Any, Any, Any]) -> HttpServices:
    """A plain lookup rather than Litestar DI: its signature model would re-validate the services on every call."""
    services: HttpServices = request.app.state[SERVICES_STATE_KEY]
    return services
