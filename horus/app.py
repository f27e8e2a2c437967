"""The composition root: a dependency-injector container that picks adapters from Settings, and the app factory.

Only this module imports dependency_injector. Handlers and the CLI get plain objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import argon2
from dependency_injector import containers, providers
from litestar import Litestar

from horus.adapters.http.application import HorusAsgiApp, build_http_app
from horus.adapters.http.client_address import TrustedProxies, parse_networks
from horus.adapters.http.scope_catalogue import ScopeCatalogue
from horus.adapters.http.services import SERVICES_STATE_KEY, HttpServices
from horus.adapters.observability.logs import configure_logging, flush_logs
from horus.adapters.observability.metrics import SnapshotDirectory, publish_forever
from horus.adapters.security.secret_hasher import SchemeSecretHasher
from horus.adapters.security.server_key import (
    ServerKey,
    ServerKeyError,
    ephemeral_server_key,
    load_key_file,
    load_or_create_key_file,
    server_key_from_text,
)
from horus.adapters.signing.batched_signer import BatchedSigner
from horus.adapters.signing.jwt_verifier import JwtVerifier
from horus.adapters.signing.key_material import KeyEncryption, SigningKeyError
from horus.adapters.signing.key_ring import (
    KEY_REFRESH_SECONDS,
    KEYS_STALE_AFTER_SECONDS,
    KeyRing,
    StoredKeys,
    hs256_key_ring,
    key_file_ring,
    refresh_forever,
)
from horus.adapters.storage.change_watch import PolledChanges, PushedChanges
from horus.adapters.storage.client_cache import CachedClientRepository
from horus.adapters.storage.memory import MemoryStorage
from horus.adapters.storage.postgresql import PostgreSQLStorage
from horus.adapters.storage.sqlite import SQLiteStorage
from horus.adapters.system import SystemClock, SystemRandomness
from horus.adapters.throttling.memory import MemoryAdmission
from horus.adapters.throttling.shared import SharedAdmission
from horus.domain.administration import ClientAdministration
from horus.domain.authentication import ClientAuthenticator
from horus.domain.errors import StorageUnavailable
from horus.domain.grant import ClientCredentialsGrant
from horus.domain.introspection import TokenIntrospection
from horus.domain.key_administration import KeyAdministration
from horus.domain.throttling import ThrottlePolicy
from horus.domain.token import TokenPolicy
from horus.ports.clock import Clock
from horus.ports.throttling import Admission
from horus.settings import ConfigurationError, Settings, settings_from_env

SECRET_HASH_PURPOSE = "horus/client-secret-hash/v1"
KEY_ENCRYPTION_PURPOSE = "horus/signing-key-encryption/v1"

Storage = MemoryStorage | SQLiteStorage | PostgreSQLStorage
# A token request leaves a few hundred container objects to the collector; at 64 requests in flight the
# default 700 ran a young collection every few requests (2% of the instructions of a request, measured).
YOUNG_GENERATION_THRESHOLD = 7000
T = TypeVar("T")


async def shutdown(container: Container) -> None:
    """Closes the container's open resources (the storage, the key refresher)."""
    closing = container.shutdown_resources()
    if inspect.isawaitable(closing):  # only when an async resource was opened
        await closing


class StartupError(Exception):
    """Horus cannot start: the storage cannot be opened, the signing keys cannot be loaded, the port is taken.
    The message says which, in one line."""


def load_server_key(settings: Settings, create_files: bool) -> ServerKey:
    if settings.secret_key is not None:
        return server_key_from_text(settings.secret_key, "HORUS_SECRET_KEY")
    path = settings.effective_secret_key_file
    if path is None:
        return ephemeral_server_key()
    return load_or_create_key_file(path) if create_files else load_key_file(path)


def check_storage_location(settings: Settings, must_exist: bool) -> None:
    """A SQLite file must be in a directory that exists; commands that only read need the file itself,
    so that run from another directory they say where they looked instead of creating an empty database."""
    path = settings.storage.path
    if settings.storage.scheme != "sqlite" or path is None:
        return
    where = path.absolute()
    if not where.parent.is_dir():
        raise ConfigurationError(f"HORUS_STORAGE: the directory {where.parent} does not exist")
    if must_exist and not where.exists():
        relative = "" if path.is_absolute() else f" (sqlite:///{path} is relative to the current directory)"
        raise ConfigurationError(
            f"HORUS_STORAGE: no database at {where}{relative}; this command creates none: point HORUS_STORAGE at the"
            " server's database, e.g. HORUS_STORAGE=sqlite:////var/lib/horus/horus.db"
        )


def key_administration(
    storage: Storage, encryption: KeyEncryption, clock: Clock, settings: Settings
) -> KeyAdministration:
    lifetime, lead = timedelta(seconds=settings.token_ttl), timedelta(seconds=settings.key_rotation_lead)
    return KeyAdministration(storage, encryption, clock, lifetime, lead)


async def opened_storage(storage: Storage) -> AsyncIterator[Storage]:
    await storage.open()
    try:
        yield storage
    finally:
        await storage.close()


async def key_ring_resource(settings: Settings, keys: StoredKeys, refresh_seconds: float) -> AsyncIterator[KeyRing]:
    if settings.signing_alg == "HS256":
        assert settings.signing_secret is not None  # settings_from_env guarantees it
        yield hs256_key_ring(settings.signing_secret)
        return
    if settings.signing_key_file is not None:
        yield key_file_ring(settings.signing_key_file)
        return
    ring = await keys.load()
    refresher = asyncio.create_task(refresh_forever(keys, ring, refresh_seconds))
    try:
        yield ring
    finally:
        refresher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refresher


def client_cache(storage: Storage, enabled: bool) -> CachedClientRepository | Storage:
    return CachedClientRepository(storage) if enabled else storage


async def change_watch_resource(
    storage: Storage, clients: CachedClientRepository | Storage, admission: Admission, interval: float
) -> AsyncIterator[None]:
    """Follows other processes' client changes and throttling failures in the background (change_watch.py)."""
    cache = clients if isinstance(clients, CachedClientRepository) else None
    heard = admission.hear_failures if isinstance(admission, SharedAdmission) else None
    watch: PolledChanges | PushedChanges
    if isinstance(storage, PostgreSQLStorage):
        watch = PushedChanges(storage, storage, cache, heard, reconcile_seconds=max(interval, 1.0) * 5)
    else:
        failures = storage if isinstance(storage, SQLiteStorage) and heard is not None else None
        watch = PolledChanges(storage, cache, interval or 1.0, failures, heard)
    task = asyncio.create_task(watch.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def signing_keys_current(settings: Settings, keys: StoredKeys, stale_after: float) -> Callable[[], bool]:
    """For /ready: stored keys are current while the refresh keeps reading them; a key file or secret always is."""
    if not stores_signing_keys(settings):
        return lambda: True
    return lambda: keys.loaded_within(stale_after)


class Container(containers.DeclarativeContainer):
    config = providers.Configuration(strict=True)
    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(SystemClock)
    randomness = providers.Singleton(SystemRandomness)
    server_key = providers.Singleton(load_server_key, settings, config.create_files)

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
    key_encryption = providers.Singleton(lambda key: KeyEncryption(key.derive(KEY_ENCRYPTION_PURPOSE)), server_key)
    key_administration = providers.Singleton(key_administration, open_storage, key_encryption, clock, settings)
    stored_keys = providers.Singleton(StoredKeys, key_administration, key_encryption, clock)
    key_ring = providers.Resource(key_ring_resource, settings, stored_keys, config.keys.refresh_seconds)
    signing_keys_current = providers.Callable(signing_keys_current, settings, stored_keys, config.keys.stale_after)

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
        storage=providers.Singleton(SharedAdmission, open_storage, config.throttle.window),
    )
    cached_clients = providers.Singleton(client_cache, open_storage, config.client_cache.enabled)
    change_watch = providers.Resource(
        change_watch_resource, open_storage, cached_clients, admission, config.client_cache.interval
    )
    authenticator = providers.Singleton(ClientAuthenticator, cached_clients, secret_hasher, admission, throttle_policy)
    token_signer = providers.Singleton(lambda ring: BatchedSigner(ring.sign), key_ring)
    grant = providers.Singleton(ClientCredentialsGrant, authenticator, token_signer, clock, randomness, token_policy)
    verifier = providers.Singleton(JwtVerifier, key_ring, config.issuer, config.audience, clock)
    administration = providers.Singleton(ClientAdministration, open_storage, secret_hasher, clock, randomness)
    introspection = providers.Singleton(TokenIntrospection, verifier, cached_clients, open_storage, clock)


def build_container(settings: Settings, create_files: bool = True) -> Container:
    """`create_files`: a missing server key file is created (False: it is an error, for commands that only read)."""
    container = Container(settings=settings)
    container.config.from_dict(
        {
            "create_files": create_files,
            "storage": {
                "scheme": settings.storage.scheme,
                "path": settings.storage.path,
                "url": settings.storage.url,
                "pool_size": settings.postgres_pool_size,
            },
            "issuer": settings.issuer,
            "audience": settings.audience,
            "keys": {"refresh_seconds": KEY_REFRESH_SECONDS, "stale_after": KEYS_STALE_AFTER_SECONDS},
            "token_ttl": settings.token_ttl,
            "client_cache": {"enabled": settings.client_cache_ttl > 0, "interval": float(settings.client_cache_ttl)},
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


WORKER_METRICS_VARIABLE = "HORUS_WORKER_METRICS_DIR"
"""Set by `horus serve --workers N` for its workers: where they publish their metrics to each other."""


def create_app(container: Container | None = None, serving: bool = False) -> HorusAsgiApp:
    """The ASGI app. Nothing is opened until the server's lifespan starts.

    `serving`: this process exists to serve the app (`horus serve`), so it may tune the process."""
    peers: SnapshotDirectory | None = None
    if container is None:  # a worker process started by `horus serve --workers N`
        serving = True
        settings = settings_from_env(os.environ)
        configure_logging(settings.log_level)
        container = build_container(settings)
        if os.environ.get(WORKER_METRICS_VARIABLE):
            peers = SnapshotDirectory(Path(os.environ[WORKER_METRICS_VARIABLE]))
    settings = container.settings()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        publisher: asyncio.Task[None] | None = None
        try:
            storage: Storage = await container.open_storage.async_()
            await container.change_watch.async_()
            services = HttpServices(
                grant=await container.grant.async_(),
                authenticator=await container.authenticator.async_(),
                introspection=await container.introspection.async_(),
                scopes=ScopeCatalogue(await container.administration.async_()) if settings.publish_scopes else None,
                public_keys=await container.key_ring.async_(),
                issuer=settings.issuer,
                trusted_proxies=TrustedProxies(parse_networks(settings.trusted_proxies)),
                storage_ping=storage.ping,
                metrics=asgi.metrics,
                operator_port=settings.ops_port,
                signing_keys_current=await container.signing_keys_current.async_(),
            )
            app.state[SERVICES_STATE_KEY] = services
            if peers is not None:
                publisher = asyncio.create_task(publish_forever(peers, asgi.metrics))
            if serving:
                prepare_process_for_serving()
            yield
        finally:
            if publisher is not None and peers is not None:
                publisher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await publisher
                with contextlib.suppress(OSError):
                    peers.publish(asgi.metrics.snapshot())  # the last requests' counts too
            await shutdown(container)
            flush_logs()

    asgi = build_http_app([lifespan], settings.metrics_client_labels, peers.others if peers is not None else tuple)
    return asgi


def stores_signing_keys(settings: Settings) -> bool:
    """Signing keys live in the storage (and `horus keys` manages them) unless HS256 or a key file is configured."""
    return settings.signing_alg == "ES256" and settings.signing_key_file is None


async def _close_after_failure(container: Container) -> None:
    """Closes what did open, resource by resource: shutdown_resources() stops at the one that failed to open
    (it raises that failure again, which is being reported already) and would leave the storage open."""
    for _ in range(3):  # a resource whose shutdown fails may still count as initialized
        for resource in container.traverse(types=[providers.Resource]):
            if resource.initialized:
                with contextlib.suppress(Exception):
                    closing = resource.shutdown()
                    if inspect.isawaitable(closing):
                        await closing


async def _opening(container: Container, services: Callable[[], Awaitable[T]]) -> T:
    """Turns what stops the services from opening into a StartupError, in one line; then closes what did open."""
    try:
        container.server_key()  # first: a bad key stops the start before any connection is opening
        return await services()
    except BaseException as error:
        await _close_after_failure(container)
        if isinstance(error, ConfigurationError | ServerKeyError | StartupError) or not isinstance(error, Exception):
            raise  # the messages of the first two name the setting: the CLI says "configuration error"
        # A driver's surprise (an odd URL option) included: the service cannot start.
        message = str(error) if isinstance(error, StorageUnavailable | SigningKeyError) else repr(error)
        raise StartupError(message) from error


async def check_startup(settings: Settings) -> None:
    """Opens storage and loads the signing key once, so that `horus serve` reports problems in one line."""
    check_storage_location(settings, must_exist=False)
    container = build_container(settings)
    await _opening(container, container.key_ring.async_)
    await shutdown(container)


@dataclass(frozen=True, slots=True)
class CliServices:
    """What the `horus` command works with: the use cases, as plain objects."""

    clients: ClientAdministration
    keys: KeyAdministration | None
    """None when the signing keys are not stored (HS256, or HORUS_SIGNING_KEY_FILE): nothing to rotate."""


async def _cli_services(container: Container, settings: Settings) -> CliServices:
    keys = await container.key_administration.async_() if stores_signing_keys(settings) else None
    return CliServices(await container.administration.async_(), keys)


@asynccontextmanager
async def cli_services(settings: Settings, read_only: bool) -> AsyncIterator[CliServices]:
    """The services of one `horus` command, open for its duration. `read_only`: the command changes nothing,
    so it creates no database and no key file; it says where it looked instead."""
    check_storage_location(settings, must_exist=read_only)
    container = build_container(settings, create_files=not read_only)
    services = await _opening(container, lambda: _cli_services(container, settings))
    try:
        yield services
    finally:
        await shutdown(container)
