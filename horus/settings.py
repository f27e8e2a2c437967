"""Configuration: HORUS_* environment variables, parsed once into a typed, validated Settings object."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from horus.adapters.http.client_address import parse_networks
from horus.adapters.http.listeners import HttpLimits

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
SIGNING_ALGORITHMS = ("ES256", "HS256")
MAX_TOKEN_TTL = 86400


class ConfigurationError(Exception):
    """An invalid setting; the message names the variable."""


@dataclass(frozen=True, slots=True)
class StorageLocation:
    scheme: str
    """'memory', 'sqlite' or 'postgresql'."""
    path: Path | None = None
    url: str | None = None
    """The PostgreSQL connection URL (may hold a password: never log it)."""

    def __repr__(self) -> str:
        return f"StorageLocation(scheme={self.scheme!r}, path={self.path!r})"


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    storage: StorageLocation = StorageLocation("sqlite", Path("horus.db"))
    issuer: str = "http://127.0.0.1:8080"
    audience: str = "http://127.0.0.1:8080"
    token_ttl: int = 3600
    signing_alg: str = "ES256"
    signing_key_file: Path | None = None
    signing_secret: str | None = None
    secret_key: str | None = None
    secret_key_file: Path | None = None
    log_level: str = "INFO"
    throttle_client_failures: int = 10
    throttle_client_global_failures: int = 100
    throttle_address_failures: int = 100
    throttle_window: int = 60
    trusted_proxies: str = ""
    client_cache_ttl: float = 1.0
    postgres_pool_size: int = 10
    key_rotation_lead: int = 600
    workers: int = 1
    ops_host: str = "127.0.0.1"
    ops_port: int = 8081
    metrics_client_labels: bool = False
    publish_scopes: bool = False
    http: HttpLimits = field(default_factory=HttpLimits)

    def __repr__(self) -> str:
        hidden = {"signing_secret", "secret_key"}
        fields = ", ".join(
            f"{name}={'<redacted>' if name in hidden and getattr(self, name) else getattr(self, name)!r}"
            for name in self.__slots__
        )
        return f"Settings({fields})"

    @property
    def effective_secret_key_file(self) -> Path | None:
        """Where the server key file lives: configured, or beside the SQLite file; None for memory://."""
        if self.secret_key_file is not None:
            return self.secret_key_file
        if self.storage.path is not None:
            return self.storage.path.with_name(self.storage.path.stem + ".key")
        return None


def parse_storage(url: str) -> StorageLocation:
    """SQLAlchemy's URL forms: sqlite:///relative.db, sqlite:////absolute.db, memory://."""
    if url == "memory://":
        return StorageLocation("memory")
    scheme = url.partition("://")[0]
    if scheme == "sqlite":
        if not url.startswith("sqlite:///") or len(url) == len("sqlite:///"):
            raise ConfigurationError("HORUS_STORAGE: write sqlite:///relative/path.db or sqlite:////absolute/path.db")
        return StorageLocation("sqlite", Path(url[len("sqlite:///") :]))
    if scheme in ("postgresql", "postgres"):
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError when the port is not a number from 0 to 65535
        except ValueError as error:  # the message names the part, never the password
            raise ConfigurationError(f"HORUS_STORAGE: {error}; write postgresql://user@host:port/database") from None
        if not parts.hostname:
            raise ConfigurationError("HORUS_STORAGE: write postgresql://user@host:port/database")
        return StorageLocation("postgresql", url=url)
    raise ConfigurationError(
        f"HORUS_STORAGE: unknown storage {scheme or '(none)'!r}; use sqlite:///path.db, postgresql://... or memory://"
    )


def _integer(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigurationError(f"{name}: {raw!r} is not an integer") from None
    if not low <= value <= high:
        raise ConfigurationError(f"{name}: {value} is outside {low}..{high}")
    return value


def _boolean(env: Mapping[str, str], name: str) -> bool:
    raw = (env.get(name) or "false").strip().lower()
    if raw not in ("true", "false"):
        raise ConfigurationError(f"{name}: {raw!r} is not true or false")
    return raw == "true"


def _url(name: str, value: str) -> str:
    try:
        parts = urlsplit(value)
    except ValueError as error:
        raise ConfigurationError(f"{name}: {value!r} is not an http(s) URL ({error})") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"{name}: {value!r} is not an http(s) URL")
    return value


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name)
    return Path(raw) if raw else None


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def _default_issuer(host: str, port: int) -> str:
    """http://HOST:PORT, when that is an address clients can use: not a wildcard address, not a port chosen at start."""
    if _is_wildcard(host):
        raise ConfigurationError(
            f"HORUS_ISSUER: required when listening on {host} (every address, none that clients use): set it to the"
            " URL clients reach Horus at, e.g. HORUS_ISSUER=https://auth.example.com"
        )
    if port == 0:
        raise ConfigurationError(
            "HORUS_ISSUER: required with port 0 (a port chosen at start): set it to the URL clients reach Horus at,"
            " or give a port"
        )
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def settings_from_env(env: Mapping[str, str]) -> Settings:
    for name, value in env.items():
        if name.startswith("HORUS_") and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:  # os.environ holds undecodable bytes as lone surrogates
                raise ConfigurationError(f"{name}: not valid UTF-8") from None
    host = env.get("HORUS_HOST") or "127.0.0.1"
    port = _integer(env, "HORUS_PORT", 8080, 0, 65535)
    storage = parse_storage(env.get("HORUS_STORAGE") or "sqlite:///horus.db")
    issuer = _url("HORUS_ISSUER", env.get("HORUS_ISSUER") or _default_issuer(host, port))
    audience = env.get("HORUS_AUDIENCE") or issuer
    token_ttl = _integer(env, "HORUS_TOKEN_TTL", 3600, 1, MAX_TOKEN_TTL)
    signing_alg = (env.get("HORUS_SIGNING_ALG") or "ES256").upper()
    if signing_alg not in SIGNING_ALGORITHMS:
        raise ConfigurationError(f"HORUS_SIGNING_ALG: {signing_alg!r} is not one of {', '.join(SIGNING_ALGORITHMS)}")
    signing_secret = env.get("HORUS_SIGNING_SECRET") or None
    signing_key_file = _path(env, "HORUS_SIGNING_KEY_FILE")
    if signing_alg == "HS256" and signing_secret is None:
        raise ConfigurationError("HORUS_SIGNING_SECRET: required when HORUS_SIGNING_ALG is HS256")
    if signing_alg == "HS256" and signing_key_file is not None:
        raise ConfigurationError("HORUS_SIGNING_KEY_FILE: not used with HS256; unset it or use ES256")
    if signing_alg == "ES256" and signing_secret is not None:
        raise ConfigurationError("HORUS_SIGNING_SECRET: only used with HORUS_SIGNING_ALG=HS256")
    log_level = (env.get("HORUS_LOG_LEVEL") or "INFO").upper()
    if log_level not in LOG_LEVELS or not isinstance(logging.getLevelName(log_level), int):
        raise ConfigurationError(f"HORUS_LOG_LEVEL: {log_level!r} is not one of {', '.join(LOG_LEVELS)}")
    workers = _integer(env, "HORUS_WORKERS", 1, 1, 256)
    if workers > 1 and storage.scheme == "memory":
        raise ConfigurationError("HORUS_WORKERS: several workers need shared storage (sqlite or postgresql)")
    ops_host = env.get("HORUS_OPS_HOST") or "127.0.0.1"
    ops_port = _integer(env, "HORUS_OPS_PORT", 8081, 1, 65535)
    if ops_port == port:
        raise ConfigurationError(
            f"HORUS_OPS_PORT: {ops_port} is also HORUS_PORT; the operator listener needs a port of its own"
        )
    trusted_proxies = env.get("HORUS_TRUSTED_PROXIES") or ""
    try:
        parse_networks(trusted_proxies)
    except ValueError as error:
        raise ConfigurationError(f"HORUS_TRUSTED_PROXIES: {error}") from None
    return Settings(
        throttle_client_failures=_integer(env, "HORUS_THROTTLE_CLIENT_FAILURES", 10, 1, 1_000_000),
        throttle_client_global_failures=_integer(env, "HORUS_THROTTLE_CLIENT_GLOBAL_FAILURES", 100, 1, 1_000_000),
        throttle_address_failures=_integer(env, "HORUS_THROTTLE_ADDRESS_FAILURES", 100, 1, 1_000_000),
        throttle_window=_integer(env, "HORUS_THROTTLE_WINDOW", 60, 1, 86400),
        trusted_proxies=trusted_proxies,
        client_cache_ttl=_integer(env, "HORUS_CLIENT_CACHE_TTL", 1, 0, 5),
        postgres_pool_size=_integer(env, "HORUS_POSTGRES_POOL_SIZE", 10, 1, 200),
        key_rotation_lead=_integer(env, "HORUS_KEY_ROTATION_LEAD", 600, 0, 7 * 86400),
        workers=workers,
        ops_host=ops_host,
        ops_port=ops_port,
        metrics_client_labels=_boolean(env, "HORUS_METRICS_CLIENT_LABELS"),
        publish_scopes=_boolean(env, "HORUS_PUBLISH_SCOPES"),
        http=HttpLimits(
            max_header_bytes=_integer(env, "HORUS_HTTP_MAX_HEADER_BYTES", 16384, 1024, 1024 * 1024),
            max_headers=_integer(env, "HORUS_HTTP_MAX_HEADERS", 100, 10, 10_000),
            request_timeout=_integer(env, "HORUS_HTTP_REQUEST_TIMEOUT", 10, 1, 300),
            keep_alive_timeout=_integer(env, "HORUS_HTTP_KEEP_ALIVE_TIMEOUT", 5, 1, 3600),
            max_connections=_integer(env, "HORUS_HTTP_MAX_CONNECTIONS", 1000, 1, 1_000_000),
        ),
        host=host,
        port=port,
        storage=storage,
        issuer=issuer,
        audience=audience,
        token_ttl=token_ttl,
        signing_alg=signing_alg,
        signing_key_file=signing_key_file,
        signing_secret=signing_secret,
        secret_key=env.get("HORUS_SECRET_KEY") or None,
        secret_key_file=_path(env, "HORUS_SECRET_KEY_FILE"),
        log_level=log_level,
    )
