"""The `horus` command as an operator runs it: a real process on a real SQLite file, read through its output."""

from __future__ import annotations

import sqlite3
import stat
import subprocess
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from horus.app import create_app
from horus.settings import settings_from_env
from tests.conftest import make_container
from tests.integration.processes import LEGACY_TOKEN_PATH, CliResult, create_client, horus_env, run_horus

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


@pytest.mark.parametrize("command", [("clients", "list"), ("serve",)], ids=["clients-list", "serve"])
def test_a_storage_in_a_missing_directory_fails_in_one_line(tmp_path: Path, command: tuple[str, ...]) -> None:
    env = horus_env(tmp_path, HORUS_STORAGE=f"sqlite:///{tmp_path / 'missing' / 'horus.db'}")
    line = assert_one_line_failure(run_horus(command, env, tmp_path))
    assert str(tmp_path / "missing") in line


@pytest.mark.parametrize("command", [("clients", "list"), ("serve",)], ids=["clients-list", "serve"])
def test_a_file_that_is_not_a_database_fails_in_one_line(
    tmp_path: Path, not_a_database: Path, command: tuple[str, ...]
) -> None:
    env = horus_env(tmp_path, HORUS_STORAGE=f"sqlite:///{not_a_database}")
    line = assert_one_line_failure(run_horus(command, env, tmp_path))
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
    assert_one_line_failure(result)


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
    line = assert_one_line_failure(horus(env, tmp_path, "clients", "list"))
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
