"""The `horus` command as an operator runs it: a real process on a real SQLite file, read through its output."""

from __future__ import annotations

import io
import json
import logging
import os
import pwd
import socket
import sqlite3
import stat
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import chdir, closing, contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient

from horus import __version__
from horus.app import create_app
from horus.cli import main
from horus.settings import settings_from_env
from tests.conftest import TEST_SECRET_KEY, make_container
from tests.integration.processes import (
    HORUS,
    LEGACY_TOKEN_PATH,
    CliResult,
    create_client,
    free_port,
    horus_env,
    run_horus,
    running_server,
)

pytestmark = pytest.mark.slow  # every test runs the horus command as a process

CLIENT_JSON_FIELDS = {"clientId", "name", "scopes", "enabled", "createdAt", "updatedAt"}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return horus_env(tmp_path)


def horus(env: dict[str, str], cwd: Path, *args: str, stdin: str = "") -> CliResult:
    return run_horus(args, env, cwd, stdin)


def assert_one_line_failure(result: CliResult, exit_code: int = 1) -> str:
    """Bad input ends in one line on stderr, nothing on stdout, and no traceback."""
    assert (exit_code, "") == (result.exit_code, result.stdout)
    assert "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("horus: ")
    return line


def test_create_with_a_client_id_prints_the_id_and_a_generated_secret_as_json(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = horus(env, tmp_path, "clients", "create", "--client-id", "billing.apps", "--scope", "read", "--json")
    assert 0 == result.exit_code, result.stderr
    created = result.json()
    assert {"clientId", "clientSecret"} == set(created)
    assert "billing.apps" == created["clientId"]
    assert created["clientSecret"].startswith("horus_sk_")


def test_create_without_a_client_id_generates_a_uuid(env: dict[str, str], tmp_path: Path) -> None:
    client_id, _ = create_client(env, tmp_path)
    assert (36, 4) == (len(client_id), client_id.count("-"))


def test_creating_a_taken_client_id_fails_in_one_line(env: dict[str, str], tmp_path: Path) -> None:
    create_client(env, tmp_path, "--client-id", "billing.apps")
    line = assert_one_line_failure(horus(env, tmp_path, "clients", "create", "--client-id", "billing.apps", "--json"))
    assert "billing.apps" in line
    assert 1 == len(horus(env, tmp_path, "clients", "list", "--json").json())


@pytest.mark.parametrize("action", ["show", "disable", "enable", "delete", "rotate-secret"])
def test_an_unknown_client_id_fails_in_one_line(env: dict[str, str], tmp_path: Path, action: str) -> None:
    create_client(env, tmp_path)
    line = assert_one_line_failure(horus(env, tmp_path, "clients", action, "no-such-client"))
    assert "no-such-client" in line


def test_show_prints_a_client_without_its_secret(env: dict[str, str], tmp_path: Path) -> None:
    client_id, secret = create_client(env, tmp_path, "--name", "Billing", "--scope", "write read")
    result = horus(env, tmp_path, "clients", "show", client_id, "--json")
    assert 0 == result.exit_code, result.stderr
    shown = result.json()
    assert (client_id, "Billing", ["read", "write"], True) == (
        shown["clientId"],
        shown["name"],
        shown["scopes"],
        shown["enabled"],
    )
    assert secret not in result.stdout


def test_disable_and_enable_show_in_the_client(env: dict[str, str], tmp_path: Path) -> None:
    client_id, _ = create_client(env, tmp_path)
    assert False is horus(env, tmp_path, "clients", "disable", client_id, "--json").json()["enabled"]
    assert False is horus(env, tmp_path, "clients", "show", client_id, "--json").json()["enabled"]
    assert True is horus(env, tmp_path, "clients", "enable", client_id, "--json").json()["enabled"]


def test_a_deleted_client_is_gone(env: dict[str, str], tmp_path: Path) -> None:
    client_id, _ = create_client(env, tmp_path)
    assert {"clientId": client_id, "deleted": True} == horus(
        env, tmp_path, "clients", "delete", client_id, "--json"
    ).json()
    assert_one_line_failure(horus(env, tmp_path, "clients", "show", client_id))


def test_list_json_shows_every_client_and_no_secret_or_hash(env: dict[str, str], tmp_path: Path) -> None:
    _, generated_secret = create_client(env, tmp_path, "--client-id", "b-generated", "--scope", "read")
    imported_secret = "imported-legacy-secret-42"
    imported = horus(
        env, tmp_path, "clients", "create", "--client-id", "a-imported", "--secret-stdin", stdin=imported_secret
    )
    assert 0 == imported.exit_code, imported.stderr
    result = horus(env, tmp_path, "clients", "list", "--json")
    assert 0 == result.exit_code, result.stderr
    listed = result.json()
    assert ["a-imported", "b-generated"] == [client["clientId"] for client in listed]
    assert [CLIENT_JSON_FIELDS, CLIENT_JSON_FIELDS] == [set(client) for client in listed]
    for revealing in (generated_secret, imported_secret, "secret", "hash", "hmac", "argon2"):
        assert revealing not in result.stdout.lower()


@pytest.mark.parametrize(
    ("variable", "value"),
    [("HORUS_STORAGE", "foo://x"), ("HORUS_PORT", "notanumber"), ("HORUS_TOKEN_TTL", "0")],
)
@pytest.mark.parametrize("command", [("clients", "list"), ("serve",)], ids=["clients-list", "serve"])
def test_an_invalid_setting_is_named_in_one_line_with_exit_code_2(
    tmp_path: Path, variable: str, value: str, command: tuple[str, ...]
) -> None:
    env = horus_env(tmp_path, **{variable: value})
    line = assert_one_line_failure(run_horus(command, env, tmp_path), exit_code=2)
    assert variable in line
    assert not (tmp_path / "horus.db").exists()


@pytest.fixture
def not_a_database(tmp_path: Path) -> Path:
    path = tmp_path / "text.db"
    path.write_text("this is not a database\n" * 100)
    return path


@pytest.mark.parametrize("command", [("clients", "list"), ("clients", "create"), ("serve",)])
def test_a_storage_in_a_missing_directory_is_a_configuration_error(tmp_path: Path, command: tuple[str, ...]) -> None:
    env = horus_env(tmp_path, HORUS_STORAGE=f"sqlite:///{tmp_path / 'missing' / 'horus.db'}")
    line = assert_one_line_failure(run_horus(command, env, tmp_path), exit_code=2)
    assert line.startswith("horus: configuration error: HORUS_STORAGE")
    assert str(tmp_path / "missing") in line


@pytest.mark.parametrize("command", [("clients", "create"), ("keys", "rotate"), ("serve",)])
def test_a_short_server_key_is_a_configuration_error(tmp_path: Path, command: tuple[str, ...]) -> None:
    env = horus_env(tmp_path, HORUS_SECRET_KEY="short")
    line = assert_one_line_failure(run_horus(command, env, tmp_path), exit_code=2)
    assert line.startswith("horus: configuration error: HORUS_SECRET_KEY")


@pytest.mark.parametrize("command", [("clients", "list"), ("serve",)], ids=["clients-list", "serve"])
def test_a_file_that_is_not_a_database_is_a_start_up_error(
    tmp_path: Path, not_a_database: Path, command: tuple[str, ...]
) -> None:
    env = horus_env(tmp_path, HORUS_STORAGE=f"sqlite:///{not_a_database}", HORUS_SECRET_KEY=TEST_SECRET_KEY)
    line = assert_one_line_failure(run_horus(command, env, tmp_path), exit_code=2)
    assert line.startswith("horus: cannot start: ")
    assert str(not_a_database) in line


def test_a_database_locked_by_another_writer_fails_in_one_line_and_the_command_exits(
    env: dict[str, str], tmp_path: Path
) -> None:
    """The busy timeout is 5 s; the command must then report the storage and end, not linger."""
    create_client(env, tmp_path)
    with closing(sqlite3.connect(tmp_path / "horus.db", isolation_level=None)) as other:
        other.execute("BEGIN EXCLUSIVE")
        try:
            result = run_horus(["clients", "list"], env, tmp_path, timeout=15)
        except subprocess.TimeoutExpired as timeout:
            stderr = timeout.stderr.decode() if isinstance(timeout.stderr, bytes) else timeout.stderr
            pytest.fail(f"horus clients list was still running after 15 s; stderr: {stderr!r}")
        finally:
            other.execute("ROLLBACK")
    assert_one_line_failure(result, exit_code=2)  # it could not open the storage: a start-up error


def test_the_database_never_holds_a_plain_secret(env: dict[str, str], tmp_path: Path) -> None:
    client_id, first_secret = create_client(env, tmp_path, "--client-id", "generated")
    rotated_secret = horus(env, tmp_path, "clients", "rotate-secret", client_id, "--json").json()["clientSecret"]
    imported_secret = "imported-legacy-secret-0123456789"
    assert 0 == horus(env, tmp_path, "clients", "create", "--secret-stdin", stdin=imported_secret + "\n").exit_code
    database_files = sorted(tmp_path.glob("horus.db*"))
    assert tmp_path / "horus.db" in database_files
    stored = b"".join(path.read_bytes() for path in database_files)
    assert b"generated" in stored  # the clients are there, only their secrets are not
    for secret in (first_secret, rotated_secret, imported_secret):
        assert secret.encode() not in stored
        assert secret.encode("utf-16-le") not in stored


def test_the_server_key_file_is_created_readable_by_its_owner_only(env: dict[str, str], tmp_path: Path) -> None:
    create_client(env, tmp_path)
    key_file = tmp_path / "horus.key"
    assert 0o600 == stat.S_IMODE(key_file.stat().st_mode)


def test_a_server_key_file_readable_by_others_is_refused_in_one_line(env: dict[str, str], tmp_path: Path) -> None:
    create_client(env, tmp_path)
    (tmp_path / "horus.key").chmod(0o644)
    line = assert_one_line_failure(horus(env, tmp_path, "clients", "list"), exit_code=2)
    assert "chmod 600" in line


def test_an_empty_secret_on_stdin_is_refused_in_one_line(env: dict[str, str], tmp_path: Path) -> None:
    assert_one_line_failure(horus(env, tmp_path, "clients", "create", "--secret-stdin", stdin=""))
    assert [] == horus(env, tmp_path, "clients", "list", "--json").json()


@pytest.fixture
async def app_client_on(tmp_path: Path) -> AsyncIterator[AsyncTestClient[Any]]:
    """The real app in process, on the SQLite file and server key file the CLI used."""
    container = make_container(settings_from_env({"HORUS_STORAGE": f"sqlite:///{tmp_path / 'horus.db'}"}))
    async with AsyncTestClient(app=create_app(container)) as test_client:  # type: ignore[type-var]
        yield test_client


@pytest.fixture
def imported_client(env: dict[str, str], tmp_path: Path) -> tuple[str, str]:
    secret = "s3cr3t from the old system, with spaces"
    result = horus(
        env, tmp_path, "clients", "create", "--client-id", "legacy", "--secret-stdin", "--json", stdin=secret
    )
    assert 0 == result.exit_code, result.stderr
    assert secret not in result.stdout
    return "legacy", secret


async def test_a_secret_imported_from_stdin_is_accepted_by_the_server(
    imported_client: tuple[str, str], app_client_on: AsyncTestClient[Any]
) -> None:
    client_id, secret = imported_client
    body = {"grantType": "client_credentials", "clientId": client_id, "clientSecret": secret}
    accepted = await app_client_on.post(LEGACY_TOKEN_PATH, json=body)
    refused = await app_client_on.post(LEGACY_TOKEN_PATH, json={**body, "clientSecret": secret + "!"})
    assert (200, 401) == (accepted.status_code, refused.status_code)


def test_the_version_is_printed() -> None:
    result = run_horus(["--version"], horus_env(Path.cwd()), Path.cwd())
    assert (0, f"horus {__version__}\n") == (result.exit_code, result.stdout)


@pytest.mark.parametrize("command", [("clients", "list"), ("clients", "show", "billing"), ("keys", "list")])
def test_a_read_only_command_run_elsewhere_creates_nothing_and_says_where_it_looked(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    """Issue 13: run from another directory, `horus clients list` silently created ./horus.db and ./horus.key."""
    env = horus_env(tmp_path)
    del env["HORUS_STORAGE"]  # the default, sqlite:///horus.db in the current directory
    line = assert_one_line_failure(run_horus(command, env, tmp_path), exit_code=2)
    assert str(tmp_path / "horus.db") in line
    assert "HORUS_STORAGE=sqlite:////" in line  # how to point at the server's database
    assert [] == list(tmp_path.iterdir())


def test_a_read_only_command_without_the_servers_key_file_creates_none(env: dict[str, str], tmp_path: Path) -> None:
    create_client(env, tmp_path)
    (tmp_path / "horus.key").rename(tmp_path / "elsewhere.key")
    line = assert_one_line_failure(horus(env, tmp_path, "clients", "list"), exit_code=2)
    assert str(tmp_path / "horus.key") in line
    assert not (tmp_path / "horus.key").exists()


def test_a_command_that_creates_a_database_says_so(tmp_path: Path) -> None:
    env = horus_env(tmp_path)
    result = horus(env, tmp_path, "clients", "create", "--json")
    assert 0 == result.exit_code, result.stderr
    assert f"horus: created a new database at {tmp_path / 'horus.db'}" in result.stderr.splitlines()
    assert "created a new database" not in horus(env, tmp_path, "clients", "create", "--json").stderr


def test_serve_on_a_busy_port_fails_in_one_line_before_the_application_starts(tmp_path: Path) -> None:
    """Issue 13: it exited 3 after six JSON lines and "Application startup complete"."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_horus(["serve", "--port", str(port)], horus_env(tmp_path), tmp_path)
    line = assert_one_line_failure(result, exit_code=2)
    assert line.startswith(f"horus: cannot start: cannot listen on 127.0.0.1:{port}: ")
    assert "--port" in line


@pytest.mark.parametrize(
    ("options", "named"),
    [(("--host", "0.0.0.0"), "0.0.0.0"), (("--host", "::"), "::"), (("--port", "0"), "port 0")],
)
def test_serve_on_a_wildcard_address_or_port_0_needs_an_issuer(
    tmp_path: Path, options: tuple[str, ...], named: str
) -> None:
    """Issue 13: `horus serve --host 0.0.0.0` published http://0.0.0.0:8080 as issuer and in every metadata URL."""
    line = assert_one_line_failure(run_horus(["serve", *options], horus_env(tmp_path), tmp_path), exit_code=2)
    assert line.startswith("horus: configuration error: HORUS_ISSUER: required")
    assert named in line


def test_serve_on_port_0_with_an_issuer_publishes_the_issuer(tmp_path: Path) -> None:
    env = horus_env(tmp_path, HORUS_ISSUER="https://auth.example.com")
    port = free_port()
    with running_server(env, tmp_path, port=port, options=("--host", "127.0.0.1")) as server:
        metadata = httpx.get(server.base_url + "/.well-known/oauth-authorization-server").json()
    assert "https://auth.example.com" == metadata["issuer"]
    assert metadata["jwks_uri"].startswith("https://auth.example.com/")


def test_keys_list_shows_only_documented_states(env: dict[str, str], tmp_path: Path) -> None:
    """Issue 13: `horus keys list` printed a state `published` that the README does not list."""
    at_once = {**env, "HORUS_KEY_ROTATION_LEAD": "0"}

    def states() -> list[str]:
        listed = horus(env, tmp_path, "keys", "list", "--json")
        assert 0 == listed.exit_code, listed.stderr
        return [key["state"] for key in listed.json()]

    assert 0 == horus(at_once, tmp_path, "keys", "rotate").exit_code
    assert 0 == horus(env, tmp_path, "keys", "rotate").exit_code
    assert ["active", "pending"] == states()
    assert 0 == horus(at_once, tmp_path, "keys", "rotate").exit_code  # overtakes the pending key
    assert ["retiring", "retiring", "active"] == states()


def test_the_audit_line_names_the_operating_system_user_and_keeps_the_environments_claim_apart(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Issue 14: the audit actor came from SUDO_USER/USER, which anyone can set."""
    result = horus({**env, "USER": "mallory", "SUDO_USER": "mallory"}, tmp_path, "clients", "create", "--json")
    [audit] = [json.loads(line) for line in result.stderr.splitlines() if '"horus.audit"' in line]
    expected = (pwd.getpwuid(os.getuid()).pw_name, os.getuid(), "mallory")
    assert expected == (audit["actor"], audit["actor_uid"], audit["claimed_user"])


# Hostile arguments, environment and standard input: one line on stderr, exit code 1 or 2, never a traceback.


def run_bytes(args: list[bytes], env: dict[bytes, bytes], cwd: Path, stdin: bytes = b"") -> CliResult:
    completed = subprocess.run(
        [*(part.encode() for part in HORUS), *args], env=env, cwd=cwd, input=stdin, capture_output=True, timeout=30
    )
    return CliResult(completed.returncode, completed.stdout.decode(), completed.stderr.decode("utf-8", "replace"))


def bytes_env(directory: Path, **settings: bytes) -> dict[bytes, bytes]:
    env = {name.encode(): value.encode() for name, value in horus_env(directory).items()}
    return {**env, **{name.encode(): value for name, value in settings.items()}}


@pytest.mark.parametrize(
    ("args", "settings", "stdin", "exit_code"),
    [
        pytest.param([b"clients", b"show", b"\xff"], {}, b"", 2, id="argument-not-utf8"),
        pytest.param([b"keys", b"revoke", b"\xc3("], {}, b"", 2, id="kid-not-utf8"),
        pytest.param(
            [b"clients", b"list"], {"HORUS_STORAGE": b"postgresql://u@host:notaport/db"}, b"", 2, id="pg-port"
        ),
        pytest.param([b"clients", b"list"], {"HORUS_STORAGE": b"postgresql://u@[::1/db"}, b"", 2, id="pg-ipv6"),
        pytest.param([b"clients", b"list"], {"HORUS_ISSUER": b"https://\xff.example"}, b"", 2, id="env-not-utf8"),
        pytest.param([b"clients", b"create", b"--secret-stdin"], {}, b"caf\xe9 secret", 1, id="secret-not-utf8"),
        pytest.param([b"clients", b"create", b"--name", b"\x1b[31m"], {}, b"", 1, id="control-characters"),
    ],
)
def test_hostile_input_gets_one_line_and_no_traceback(
    tmp_path: Path, args: list[bytes], settings: dict[str, bytes], stdin: bytes, exit_code: int
) -> None:
    create_client(horus_env(tmp_path), tmp_path)
    result = run_bytes(args, bytes_env(tmp_path, **settings), tmp_path, stdin)
    assert_one_line_failure(result, exit_code)
    assert 1 == len(horus(horus_env(tmp_path), tmp_path, "clients", "list", "--json").json())  # nothing was added


ANY_TEXT = st.text(
    # Lone surrogates are what Python makes of argv or environment bytes that are not UTF-8. NUL cannot be in either.
    st.one_of(st.characters(exclude_characters="\x00"), st.sampled_from(["\udcff", "\udc80", "\n", "-", " "])),
    max_size=24,
)
STORAGES = st.one_of(
    ANY_TEXT,
    st.sampled_from(
        [
            "postgresql://u@host:notaport/db",
            "postgresql://u@[::1/db",
            "postgresql://u@127.0.0.1:1/db",  # nothing listens there: refused at once
            "sqlite:///missing/horus.db",
            "sqlite:///.",
            "sqlite:///horus.db",
            "memory://",
        ]
    ),
)
SETTINGS = st.dictionaries(
    st.sampled_from(
        [
            "HORUS_PORT",
            "HORUS_HOST",
            "HORUS_ISSUER",
            "HORUS_AUDIENCE",
            "HORUS_SECRET_KEY",
            "HORUS_TOKEN_TTL",
            "HORUS_SIGNING_ALG",
            "HORUS_SIGNING_SECRET",
            "HORUS_LOG_LEVEL",
            "HORUS_KEY_ROTATION_LEAD",
            "HORUS_TRUSTED_PROXIES",
            "HORUS_WORKERS",
            "HORUS_CLIENT_CACHE_TTL",
            "HORUS_THROTTLE_WINDOW",
        ]
    ),
    ANY_TEXT,
    max_size=3,
).flatmap(lambda settings: st.one_of(st.just(settings), STORAGES.map(lambda url: {**settings, "HORUS_STORAGE": url})))
ACTIONS_ON_AN_ID = ["show", "disable", "enable", "delete", "rotate-secret"]
ARGUMENTS = st.one_of(
    st.lists(ANY_TEXT, max_size=5),
    st.tuples(st.sampled_from(ACTIONS_ON_AN_ID), ANY_TEXT).map(lambda pair: ["clients", *pair]),
    st.tuples(ANY_TEXT, ANY_TEXT, ANY_TEXT).map(
        lambda texts: ["clients", "create", "--client-id", texts[0], "--name", texts[1], "--scope", texts[2]]
    ),
    st.tuples(ANY_TEXT, ANY_TEXT).map(lambda pair: ["clients", "set-scope", pair[0], "--scope", pair[1]]),
    st.just(["clients", "create", "--secret-stdin"]),
    ANY_TEXT.map(lambda kid: ["keys", "revoke", kid]),
    st.sampled_from([["clients", "list"], ["keys", "list"], ["keys", "rotate", "--json"]]),
).filter(lambda arguments: "serve" not in arguments)  # a valid serve would start a server


@contextmanager
def logging_left_as_it_was() -> Iterator[None]:
    """main() routes the horus loggers to its own stderr; the test session's handlers come back afterwards."""
    loggers = [logging.getLogger(name) for name in ("horus", "uvicorn.error")]
    saved = [(logger.handlers[:], logger.level, logger.propagate) for logger in loggers]
    try:
        yield
    finally:
        for logger, (handlers, level, propagate) in zip(loggers, saved, strict=True):
            logger.handlers[:], logger.level, logger.propagate = handlers, level, propagate


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(arguments=ARGUMENTS, settings=SETTINGS, stdin=st.binary(max_size=40))
def test_hostile_arguments_environment_and_input_end_in_one_line_never_a_traceback(
    tmp_path: Path, arguments: list[str], settings: dict[str, str], stdin: bytes
) -> None:
    env = {"HORUS_STORAGE": "sqlite:///horus.db", "HORUS_SECRET_KEY": TEST_SECRET_KEY, **settings}
    stdout, stderr = io.StringIO(), io.StringIO()
    with chdir(tmp_path), logging_left_as_it_was(), redirect_stdout(stdout), redirect_stderr(stderr):
        exit_code = main(arguments, out=stdout, stdin=io.TextIOWrapper(io.BytesIO(stdin)), env=env)
    lines = stderr.getvalue().splitlines()
    assert "Traceback" not in stderr.getvalue()
    assert not any("unexpected error" in line for line in lines), lines
    assert exit_code in (0, 1, 2)
    if exit_code:
        assert 1 == len(lines), lines
        assert lines[0].startswith("horus: ")
