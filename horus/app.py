"""The composition root: a dependency-injector container that picks adapters from Settings, and the app factory.

Only this module imports dependency_injector. Handlers and the CLI get plain objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import os
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import TypeVar

import argon2
from dependency_injector import containers, providers
from litestar import Litestar

from horus.adapters.http.application import HorusAsgiApp, build_http_app
from horus.adapters.http.client_address import TrustedProxies, parse_networks
from horus.adapters.http.scope_catalogue import ScopeCatalogue
from horus.adapters.http.services import SERVICES_STATE_KEY, HttpServices
from horus.adapters.observability.logs import configure_logging, flush_logs
from horus.adapters.security.secret_hasher import SchemeSecretHasher
from horus.adapters.security.server_key import (
    ServerKey,
    ephemeral_server_key,
    load_or_create_key_file,
    server_key_from_text,
)
from horus.adapters.signing.batched_signer import BatchedSigner
from horus.adapters.signing.jwt_verifier import JwtVerifier
from horus.adapters.signing.key_material import KeyEncryption
from horus.adapters.signing.key_ring import KeyRing, StoredKeys, hs256_key_ring, key_file_ring, refresh_forever
from horus.adapters.storage.client_cache import CachedClientRepository
from horus.adapters.storage.memory import MemoryStorage
from horus.adapters.storage.postgresql import PostgreSQLStorage
from horus.adapters.storage.sqlite import SQLiteStorage
from horus.adapters.system import SystemClock, SystemRandomness
from horus.adapters.throttling.memory import MemoryAdmission
from horus.adapters.throttling.stored import StoredAdmission
from horus.domain.administration import ClientAdministration
from horus.domain.authentication import ClientAuthenticator
from horus.domain.grant import ClientCredentialsGrant
from horus.domain.introspection import TokenIntrospection
from horus.domain.throttling import ThrottlePolicy
from horus.domain.token import TokenPolicy
from horus.ports.clock import Clock
from horus.settings import Settings, settings_from_env

SECRET_HASH_PURPOSE = "horus/client-secret-hash/v1"
KEY_ENCRYPTION_PURPOSE = "horus/signing-key-encryption/v1"

Storage = MemoryStorage | SQLiteStorage | PostgreSQLStorage
# A token request leaves a few hundred container objects to the collector; at 64 requests in flight the
# default 700 ran a young collection every few requests (2% of the instructions of a request, measured).
YOUNG_GENERATION_THRESHOLD = 7000
T = TypeVar("T")


async def resolved(value: T | Awaitable[T]) -> T:
    """dependency-injector returns an awaitable when a provider depends on an async Resource."""
    return await value if inspect.isawaitable(value) else value


async def shutdown(container: Container) -> None:
    await resolved(container.shutdown_resources())


def load_server_key(settings: Settings) -> ServerKey:
    if settings.secret_key is not None:
        return server_key_from_text(settings.secret_key, "HORUS_SECRET_KEY")
    path = settings.effective_secret_key_file
    return ephemeral_server_key() if path is None else load_or_create_key_file(path)


async def opened_storage(storage: Storage) -> AsyncIterator[Storage]:
    await storage.open()
    try:
        yield storage
    finally:
        await storage.close()


def stored_keys(storage: Storage, server_key: ServerKey, clock: Clock) -> StoredKeys:
    return StoredKeys(storage, KeyEncryption(server_key.derive(KEY_ENCRYPTION_PURPOSE)), clock)


async def key_ring_resource(settings: Settings, keys: StoredKeys) -> AsyncIterator[KeyRing]:
    if settings.signing_alg == "HS256":
        assert settings.signing_secret is not None  # settings_from_env guarantees it
        yield hs256_key_ring(settings.signing_secret)
        return
    if settings.signing_key_file is not None:
        yield key_file_ring(settings.signing_key_file)
        return
    ring = await keys.load()
    refresher = asyncio.create_task(refresh_forever(keys, ring))
    try:
        yield ring
    finally:
        refresher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refresher


class Container(containers.DeclarativeContainer):
    config = providers.Configuration(strict=True)
    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(SystemClock)
    randomness = providers.Singleton(SystemRandomness)
    server_key = providers.Singleton(load_server_key, settings)

    storage = providers.Selector(
        config.storage.scheme,
        memory=providers.Singleton(MemoryStorage),
        sqlite=providers.Singleton(SQLiteStorage, config.storage.path),
        postgresql=providers.Singleton(PostgreSQLStorage, config.storage.url, config.storage.pool_size),
    )
    open_storage = providers.Resource(opened_storage, storage)

    password_hasher = providers.Singleton(argon2.PasswordHasher)
    secret_hasher = providers.Singleton(
        SchemeSecretHasher,
        hmac_key=providers.Callable(lambda key: key.derive(SECRET_HASH_PURPOSE), server_key),
        argon2_hasher=password_hasher,
    )
    stored_keys = providers.Singleton(stored_keys, open_storage, server_key, clock)
    key_ring = providers.Resource(key_ring_resource, settings, stored_keys)

    token_policy = providers.Singleton(TokenPolicy, config.issuer, config.audience, config.token_ttl)
    throttle_policy = providers.Singleton(
        ThrottlePolicy,
        config.throttle.client_failures,
        config.throttle.client_global_failures,
        config.throttle.address_failures,
        config.throttle.window,
    )
    # One process counts in memory; processes sharing a database count in it, so the budget does not grow with them.
    admission = providers.Selector(
        config.throttle.counter,
        memory=providers.Singleton(MemoryAdmission, config.throttle.window),
        storage=providers.Singleton(StoredAdmission, open_storage, config.throttle.window),
    )
    cached_clients = providers.Singleton(CachedClientRepository, open_storage, open_storage, config.client_cache_ttl)
    authenticator = providers.Singleton(ClientAuthenticator, cached_clients, secret_hasher, admission, throttle_policy)
    token_signer = providers.Singleton(lambda ring: BatchedSigner(ring.sign), key_ring)
    grant = providers.Singleton(ClientCredentialsGrant, authenticator, token_signer, clock, randomness, token_policy)
    verifier = providers.Singleton(JwtVerifier, key_ring, config.issuer, config.audience, clock)
    administration = providers.Singleton(ClientAdministration, open_storage, secret_hasher, clock, randomness)
    introspection = providers.Singleton(TokenIntrospection, verifier, cached_clients, open_storage, clock)


def build_container(settings: Settings) -> Container:
    container = Container(settings=settings)
    container.config.from_dict(
        {
            "storage": {
                "scheme": settings.storage.scheme,
                "path": settings.storage.path,
                "url": settings.storage.url,
                "pool_size": settings.postgres_pool_size,
            },
            "issuer": settings.issuer,
            "audience": settings.audience,
            "token_ttl": settings.token_ttl,
            "client_cache_ttl": settings.client_cache_ttl,
            "throttle": {
                "client_failures": settings.throttle_client_failures,
                "client_global_failures": settings.throttle_client_global_failures,
                "address_failures": settings.throttle_address_failures,
                "window": settings.throttle_window,
                "counter": "storage" if settings.storage.scheme == "postgresql" or settings.workers > 1 else "memory",
            },
        }
    )
    return container


def prepare_process_for_serving() -> None:
    """Moves what start-up built (modules, keys, connections) out of the collector's sight for good, and
    makes young collections rarer. For a process that serves requests, not for one that embeds the app."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, old)


def create_app(container: Container | None = None, serving: bool = False) -> HorusAsgiApp:
    """The ASGI app. Nothing is opened until the server's lifespan starts.

    `serving`: this process exists to serve the app (`horus serve`), so it may tune the process."""
    if container is None:  # a worker process started by `horus serve --workers N`
        serving = True
        settings = settings_from_env(os.environ)
        configure_logging(settings.log_level)
        container = build_container(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        try:
            storage: Storage = await resolved(container.open_storage())
            services = HttpServices(
                grant=await resolved(container.grant()),
                authenticator=await resolved(container.authenticator()),
                introspection=await resolved(container.introspection()),
                scopes=ScopeCatalogue(await resolved(container.administration())),
                public_keys=await resolved(container.key_ring()),
                issuer=container.settings().issuer,
                trusted_proxies=TrustedProxies(parse_networks(container.settings().trusted_proxies)),
                storage_ping=storage.ping,
                metrics=asgi.metrics,
            )
            app.state[SERVICES_STATE_KEY] = services
            if serving:
                prepare_process_for_serving()
            yield
        finally:
            await shutdown(container)
            flush_logs()

    asgi = build_http_app([lifespan])
    return asgi


async def check_startup(container: Container) -> None:
    """Opens storage and loads the signing key once, so that `horus serve` reports problems in one line."""
    try:
        await resolved(container.key_ring())
    finally:
        await shutdown(container)
