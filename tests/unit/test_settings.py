from __future__ import annotations

from pathlib import Path

import pytest

from horus.adapters.http.listeners import HttpLimits
from horus.settings import ConfigurationError, StorageLocation, parse_storage, settings_from_env


def test_defaults() -> None:
    settings = settings_from_env({})
    assert ("127.0.0.1", 8080, StorageLocation("sqlite", Path("horus.db"))) == (
        settings.host,
        settings.port,
        settings.storage,
    )
    assert ("http://127.0.0.1:8080", "http://127.0.0.1:8080", 3600, "ES256", "INFO") == (
        settings.issuer,
        settings.audience,
        settings.token_ttl,
        settings.signing_alg,
        settings.log_level,
    )
    assert Path("horus.key") == settings.effective_secret_key_file


def test_issuer_follows_host_and_port_and_audience_follows_issuer() -> None:
    settings = settings_from_env({"HORUS_HOST": "::1", "HORUS_PORT": "9000"})
    assert ("http://[::1]:9000", "http://[::1]:9000") == (settings.issuer, settings.audience)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("memory://", StorageLocation("memory")),
        ("sqlite:///relative/h.db", StorageLocation("sqlite", Path("relative/h.db"))),
        ("sqlite:////absolute/h.db", StorageLocation("sqlite", Path("/absolute/h.db"))),
    ],
)
def test_storage_urls_as_sqlalchemy_writes_them(url: str, expected: StorageLocation) -> None:
    assert expected == parse_storage(url)


def test_the_key_file_sits_beside_the_sqlite_file() -> None:
    settings = settings_from_env({"HORUS_STORAGE": "sqlite:////var/lib/horus/prod.db"})
    assert Path("/var/lib/horus/prod.key") == settings.effective_secret_key_file
    assert settings_from_env({"HORUS_STORAGE": "memory://"}).effective_secret_key_file is None


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"HORUS_STORAGE": "mysql://x"}, "HORUS_STORAGE"),
        ({"HORUS_STORAGE": "sqlite://"}, "HORUS_STORAGE"),
        ({"HORUS_STORAGE": "sqlite:///"}, "HORUS_STORAGE"),
        ({"HORUS_PORT": "http"}, "HORUS_PORT"),
        ({"HORUS_PORT": "70000"}, "HORUS_PORT"),
        ({"HORUS_TOKEN_TTL": "0"}, "HORUS_TOKEN_TTL"),
        ({"HORUS_TOKEN_TTL": "1h"}, "HORUS_TOKEN_TTL"),
        ({"HORUS_ISSUER": "not a url"}, "HORUS_ISSUER"),
        ({"HORUS_SIGNING_ALG": "none"}, "HORUS_SIGNING_ALG"),
        ({"HORUS_SIGNING_ALG": "HS256"}, "HORUS_SIGNING_SECRET"),
        ({"HORUS_SIGNING_SECRET": "x" * 40}, "HORUS_SIGNING_SECRET"),
        (
            {"HORUS_SIGNING_ALG": "HS256", "HORUS_SIGNING_SECRET": "x" * 40, "HORUS_SIGNING_KEY_FILE": "k.pem"},
            "HORUS_SIGNING_KEY_FILE",
        ),
        ({"HORUS_LOG_LEVEL": "chatty"}, "HORUS_LOG_LEVEL"),
        ({"HORUS_STORAGE": "postgresql://u@host:notaport/db"}, "HORUS_STORAGE"),
        ({"HORUS_STORAGE": "postgresql://u@host:70000/db"}, "HORUS_STORAGE"),
        ({"HORUS_STORAGE": "postgresql://u@[::1/db"}, "HORUS_STORAGE"),
        ({"HORUS_ISSUER": "http://[::1"}, "HORUS_ISSUER"),
        ({"HORUS_STORAGE": "sqlite:///\udcff.db"}, "HORUS_STORAGE"),
        ({"HORUS_ISSUER": "https://auth.example.com/\udcff"}, "HORUS_ISSUER"),
        ({"HORUS_OPS_PORT": "8080"}, "HORUS_OPS_PORT"),
        ({"HORUS_PORT": "9000", "HORUS_OPS_PORT": "9000"}, "HORUS_OPS_PORT"),
        ({"HORUS_OPS_PORT": "0"}, "HORUS_OPS_PORT"),
        ({"HORUS_METRICS_CLIENT_LABELS": "yes please"}, "HORUS_METRICS_CLIENT_LABELS"),
        ({"HORUS_PUBLISH_SCOPES": "1"}, "HORUS_PUBLISH_SCOPES"),
        ({"HORUS_HTTP_MAX_HEADER_BYTES": "100"}, "HORUS_HTTP_MAX_HEADER_BYTES"),
        ({"HORUS_HTTP_MAX_HEADERS": "0"}, "HORUS_HTTP_MAX_HEADERS"),
        ({"HORUS_HTTP_REQUEST_TIMEOUT": "0"}, "HORUS_HTTP_REQUEST_TIMEOUT"),
        ({"HORUS_HTTP_KEEP_ALIVE_TIMEOUT": "forever"}, "HORUS_HTTP_KEEP_ALIVE_TIMEOUT"),
        ({"HORUS_HTTP_MAX_CONNECTIONS": "0"}, "HORUS_HTTP_MAX_CONNECTIONS"),
    ],
)
def test_invalid_values_fail_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        settings_from_env(env)


def test_secrets_do_not_show_in_the_settings_repr() -> None:
    settings = settings_from_env(
        {"HORUS_SECRET_KEY": "k" * 40, "HORUS_SIGNING_ALG": "HS256", "HORUS_SIGNING_SECRET": "s" * 40}
    )
    assert "k" * 40 not in repr(settings)
    assert "s" * 40 not in repr(settings)


def test_a_postgresql_url_error_does_not_show_the_password() -> None:
    with pytest.raises(ConfigurationError) as refused:
        settings_from_env({"HORUS_STORAGE": "postgresql://u:hunter2-password@host:notaport/db"})
    assert "hunter2" not in str(refused.value)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"HORUS_HOST": "0.0.0.0"}, "0.0.0.0"),
        ({"HORUS_HOST": "::"}, "::"),
        ({"HORUS_HOST": "0:0:0:0:0:0:0:0"}, "0:0:0:0:0:0:0:0"),
        ({"HORUS_PORT": "0"}, "port 0"),
    ],
)
def test_an_issuer_nobody_can_reach_is_refused_and_the_message_says_to_set_horus_issuer(
    env: dict[str, str], named: str
) -> None:
    """Issue 13: `horus serve --host 0.0.0.0` published http://0.0.0.0:8080 as issuer; port 0 an issuer ending in :0."""
    with pytest.raises(ConfigurationError) as refused:
        settings_from_env(env)
    assert str(refused.value).startswith("HORUS_ISSUER: required")
    assert named in str(refused.value)


@pytest.mark.parametrize("env", [{"HORUS_HOST": "0.0.0.0"}, {"HORUS_HOST": "::"}, {"HORUS_PORT": "0"}])
def test_a_wildcard_address_or_port_0_is_fine_with_an_issuer(env: dict[str, str]) -> None:
    settings = settings_from_env({**env, "HORUS_ISSUER": "https://auth.example.com"})
    assert ("https://auth.example.com", "https://auth.example.com") == (settings.issuer, settings.audience)


def test_operator_endpoints_listen_on_loopback_and_name_no_client_by_default() -> None:
    settings = settings_from_env({})
    assert ("127.0.0.1", 8081, False, False) == (
        settings.ops_host,
        settings.ops_port,
        settings.metrics_client_labels,
        settings.publish_scopes,
    )


def test_operator_settings_as_given() -> None:
    settings = settings_from_env(
        {
            "HORUS_OPS_HOST": "::1",
            "HORUS_OPS_PORT": "9100",
            "HORUS_METRICS_CLIENT_LABELS": "TRUE",
            "HORUS_PUBLISH_SCOPES": "true",
        }
    )
    assert ("::1", 9100, True, True) == (
        settings.ops_host,
        settings.ops_port,
        settings.metrics_client_labels,
        settings.publish_scopes,
    )


def test_http_limits_by_default_and_as_given() -> None:
    assert HttpLimits(16384, 100, 10, 5, 1000) == settings_from_env({}).http
    given = {
        "HORUS_HTTP_MAX_HEADER_BYTES": "8192",
        "HORUS_HTTP_MAX_HEADERS": "50",
        "HORUS_HTTP_REQUEST_TIMEOUT": "3",
        "HORUS_HTTP_KEEP_ALIVE_TIMEOUT": "65",
        "HORUS_HTTP_MAX_CONNECTIONS": "200",
    }
    assert HttpLimits(8192, 50, 3, 65, 200) == settings_from_env(given).http
