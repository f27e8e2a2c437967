"""The `horus` command: serve the API, and manage clients and signing keys through the use cases that the
composition root hands it (app.cli_services), on the same storage as the server.

Bad input ends in one line on stderr and a non-zero exit code, never a traceback. Secrets
are printed once and only ever read from standard input, never from the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import pwd
import sys
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn, TextIO

from horus import __version__
from horus.adapters.observability.logs import configure_logging, stop_logging
from horus.adapters.security.server_key import ServerKeyError
from horus.adapters.signing.key_material import SigningKeyError
from horus.adapters.signing.key_ring import KEY_REFRESH_SECONDS
from horus.app import (
    StartupError,
    cli_services,
)
from horus.domain.administration import ClientAdministration, ClientWithSecret
from horus.domain.client import Client
from horus.domain.errors import HorusError
from horus.domain.key_administration import KeyAdministration, KeyRevocation, KeyStatus, UnknownSigningKey
from horus.domain.token_request import MAX_CLIENT_SECRET_LENGTH
from horus.serving import serve
from horus.settings import ConfigurationError, Settings, settings_from_env

EXIT_ERROR = 1
EXIT_USAGE = 2
"""Usage, configuration and start-up errors: the command could not begin its work."""
AUDIT_LOG = logging.getLogger("horus.audit")
LOG = logging.getLogger("horus.cli")
READ_ONLY = frozenset({("clients", "list"), ("clients", "show"), ("keys", "list")})
"""Commands that change nothing, and so create no database and no key file."""


class CliError(Exception):
    """A problem the user can fix; printed as one line."""


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error in one line (its usage text is what `--help` is for)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"horus: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="horus", description="Horus OAuth 2.0 client-credentials token service")
    parser.add_argument("--version", action="version", version=f"horus {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", help="address to listen on (default HORUS_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default HORUS_PORT or 8080)")
    serve.add_argument("--workers", type=int, help="worker processes (default HORUS_WORKERS or 1; one per core)")

    clients = commands.add_parser("clients", help="manage clients").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create = clients.add_parser("create", help="register a client and print its secret once")
    create.add_argument("--client-id", help="the clientId (default: a generated UUID)")
    create.add_argument("--name", default="", help="a display name")
    create.add_argument("--scope", default="", help='allowed scopes, space-separated: "a b"')
    create.add_argument(
        "--secret-stdin", action="store_true", help="import a known secret from standard input (legacy clients)"
    )
    create.add_argument("--json", action="store_true", help="print JSON")
    listing = clients.add_parser("list", help="list clients")
    listing.add_argument("--json", action="store_true", help="print JSON")
    for action, description in (
        ("show", "show one client"),
        ("disable", "refuse tokens to a client"),
        ("enable", "allow tokens to a client again"),
        ("delete", "remove a client"),
    ):
        sub = clients.add_parser(action, help=description)
        sub.add_argument("client_id", metavar="ID")
        sub.add_argument("--json", action="store_true", help="print JSON")
    rotate = clients.add_parser("rotate-secret", help="give a client a new generated secret, printed once")
    rotate.add_argument("client_id", metavar="ID")
    rotate.add_argument(
        "--keep-tokens",
        action="store_true",
        help="tokens issued so far stay active at introspection (default: inactive)",
    )
    rotate.add_argument("--json", action="store_true", help="print JSON")
    scopes = clients.add_parser("set-scope", help="replace a client's allowed scopes")
    scopes.add_argument("client_id", metavar="ID")
    scopes.add_argument("--scope", required=True, help='allowed scopes, space-separated: "a b" ("" for none)')
    scopes.add_argument("--json", action="store_true", help="print JSON")
    keys = commands.add_parser("keys", help="manage signing keys").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    keys_list = keys.add_parser("list", help="list signing keys and their state")
    keys_list.add_argument("--json", action="store_true", help="print JSON")
    keys_rotate = keys.add_parser("rotate", help="publish a new key now; it signs after HORUS_KEY_ROTATION_LEAD")
    keys_rotate.add_argument("--json", action="store_true", help="print JSON")
    keys_revoke = keys.add_parser(
        "revoke", help="take a compromised key out of the JWKS now; a new key signs at once if it was signing"
    )
    keys_revoke.add_argument("kid", metavar="KID")
    keys_revoke.add_argument("--json", action="store_true", help="print JSON")
    return parser


def key_json(status: KeyStatus) -> dict[str, Any]:
    key = status.key
    return {
        "kid": key.kid,
        "algorithm": key.algorithm,
        "state": str(status.state),
        "createdAt": key.created_at.isoformat(),
        "activatesAt": key.activates_at.isoformat(),
        "retiresAt": key.retires_at.isoformat() if key.retires_at else None,
    }


def _print_revocation(revocation: KeyRevocation, as_json: bool, out: TextIO) -> None:
    kid = revocation.key.kid
    replacement = revocation.replacement.kid if revocation.replacement else None
    if not revocation.already_out:
        AUDIT_LOG.info(
            "signing key revoked",
            extra={"action": "key revoked", "kid": kid, "replacement_kid": replacement, **_actor()},
        )
    if as_json:
        print(json.dumps({"kid": kid, "alreadyOut": revocation.already_out, "replacementKid": replacement}), file=out)
    elif revocation.already_out:
        print(f"key {kid} had already left the JWKS; nothing changed", file=out)
    else:
        print(
            f"key {kid} left the JWKS; each running Horus instance drops it at its next key refresh"
            f" (every {KEY_REFRESH_SECONDS:g} s)",
            file=out,
        )
        if revocation.replacement:
            starts = revocation.replacement.activates_at.isoformat(timespec="seconds")
            print(f"new key {replacement} signs from {starts}", file=out)


async def _run_keys(args: argparse.Namespace, keys: KeyAdministration | None, out: TextIO) -> None:
    if keys is None:
        raise CliError(
            "key rotation and revocation manage the generated ES256 keys; with HS256 or a key file, change the"
            " configuration"
        )
    if args.action == "revoke":
        _print_revocation(await keys.revoke(args.kid), args.json, out)
        return
    if args.action == "rotate":
        rotation = await keys.rotate()
        new, schedule = rotation.key, rotation.schedule
        AUDIT_LOG.info(
            "signing key rotated",
            extra={
                "action": "key rotated",
                "kid": new.kid,
                "activates_at": schedule.activates_at.isoformat(),
                "previous_retire_at": schedule.retire_previous_at.isoformat(),
                **_actor(),
            },
        )
        if args.json:
            print(
                json.dumps(
                    {
                        "kid": new.kid,
                        "activatesAt": schedule.activates_at.isoformat(),
                        "previousRetireAt": schedule.retire_previous_at.isoformat(),
                    }
                ),
                file=out,
            )
        else:
            print(f"new key {new.kid} is published now and signs from {schedule.activates_at.isoformat()}", file=out)
            print(f"older keys leave the JWKS at {schedule.retire_previous_at.isoformat()}", file=out)
        return
    statuses = await keys.statuses()
    if args.json:
        print(json.dumps([key_json(status) for status in statuses]), file=out)
        return
    for status in statuses:
        key = status.key
        retires = key.retires_at.isoformat(timespec="seconds") if key.retires_at else "-"
        print(
            f"{key.kid}  {key.algorithm}  {status.state:<8}  activates {key.activates_at.isoformat(timespec='seconds')}"
            f"  retires {retires}",
            file=out,
        )


def client_json(client: Client) -> dict[str, Any]:
    return {
        "clientId": client.client_id,
        "name": client.name,
        "scopes": list(client.scopes),
        "enabled": client.enabled,
        "createdAt": client.created_at.isoformat(),
        "updatedAt": client.updated_at.isoformat(),
    }


def _print_client(client: Client, as_json: bool, out: TextIO) -> None:
    if as_json:
        print(json.dumps(client_json(client)), file=out)
        return
    for label, value in (
        ("clientId", client.client_id),
        ("name", client.name),
        ("scopes", " ".join(client.scopes)),
        ("enabled", "yes" if client.enabled else "no"),
        ("created", client.created_at.isoformat(timespec="seconds")),
        ("updated", client.updated_at.isoformat(timespec="seconds")),
    ):
        print(f"{label:<9} {value}", file=out)


def _print_secret(result: ClientWithSecret, as_json: bool, out: TextIO) -> None:
    if as_json:
        print(json.dumps({"clientId": result.client.client_id, "clientSecret": result.secret}), file=out)
        return
    print(f"clientId      {result.client.client_id}", file=out)
    if result.secret is not None:
        print(f"clientSecret  {result.secret}", file=out)
        print("Store the secret now: Horus keeps only its hash and cannot show it again.", file=sys.stderr)


def read_secret_from_stdin(stdin: TextIO) -> str:
    """The secret to import, from a prompt without echo on a terminal, else the whole of standard input (one
    final line break dropped). It must be UTF-8: other bytes could never be sent in a token request."""
    if stdin.isatty():
        secret = getpass.getpass("client secret: ")
    else:
        secret = _read_text(stdin, limit=4 * MAX_CLIENT_SECRET_LENGTH + 2)  # bytes: 4 at most for a character
        if secret.endswith("\r\n"):
            secret = secret[:-2]
        elif secret.endswith("\n"):
            secret = secret[:-1]
    if not secret:
        raise CliError("no secret on standard input")
    if not _is_utf8(secret):
        raise CliError("the secret on standard input is not valid UTF-8")
    return secret


def _read_text(stdin: TextIO, limit: int) -> str:
    """At most `limit` bytes (characters, on a stream without bytes underneath) of standard input, as UTF-8."""
    binary = getattr(stdin, "buffer", None)
    try:
        data: bytes | str = binary.read(limit + 1) if binary is not None else stdin.read(limit + 1)
        if len(data) > limit:
            raise CliError(f"the secret on standard input is longer than {MAX_CLIENT_SECRET_LENGTH} characters")
        return data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:  # bytes that are not UTF-8, decoded here or by the text stream
        raise CliError("the secret on standard input is not valid UTF-8") from None


def _is_utf8(text: str) -> bool:
    """False for text holding lone surrogates: what Python makes of bytes that are not UTF-8 in argv or a file."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _actor() -> dict[str, Any]:
    """Who ran the command, as the operating system says (the process's user), for the audit line. The
    environment's word (SUDO_USER, USER), which anyone can set, only as a claim beside it when it differs."""
    uid = os.getuid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:  # a uid without a passwd entry (some containers)
        name = str(uid)
    actor: dict[str, Any] = {"actor": name, "actor_uid": uid}
    claimed = os.environ.get("SUDO_USER") or os.environ.get("USER")
    if claimed and claimed != name:
        actor["claimed_user"] = claimed
    return actor


def _audit(action: str, client_id: str, **details: Any) -> None:
    AUDIT_LOG.info("client %s", action, extra={"action": action, "client_id": client_id, **_actor(), **details})


async def _run_clients(args: argparse.Namespace, admin: ClientAdministration, out: TextIO, stdin: TextIO) -> None:
    action = args.action
    if action == "create":
        imported = read_secret_from_stdin(stdin) if args.secret_stdin else None
        result = await admin.create(args.client_id, args.name, args.scope, imported)
        _audit("created", result.client.client_id, scopes=list(result.client.scopes), imported=imported is not None)
        _print_secret(result, args.json, out)
    elif action == "list":
        clients = await admin.list_all()
        if args.json:
            print(json.dumps([client_json(client) for client in clients]), file=out)
        else:
            for client in clients:
                state = "enabled " if client.enabled else "disabled"
                print(f"{client.client_id}  {state}  {client.name}  [{' '.join(client.scopes)}]", file=out)
    elif action == "show":
        _print_client(await admin.get(args.client_id), args.json, out)
    elif action in ("enable", "disable"):
        client = await admin.set_enabled(args.client_id, action == "enable")
        _audit(f"{action}d", client.client_id)
        _print_client(client, args.json, out)
    elif action == "set-scope":
        client = await admin.set_scopes(args.client_id, args.scope)
        _audit("scopes changed", client.client_id, scopes=list(client.scopes))
        _print_client(client, args.json, out)
    elif action == "rotate-secret":
        result = await admin.rotate_secret(args.client_id, keep_tokens=args.keep_tokens)
        _audit("secret rotated", result.client.client_id)
        _print_secret(result, args.json, out)
    elif action == "delete":
        await admin.delete(args.client_id)
        _audit("deleted", args.client_id)
        if args.json:
            print(json.dumps({"clientId": args.client_id, "deleted": True}), file=out)
        else:
            print(f"deleted {args.client_id}", file=out)


async def _run(args: argparse.Namespace, settings: Settings, out: TextIO, stdin: TextIO) -> None:
    read_only = (args.command, args.action) in READ_ONLY
    path = settings.storage.path
    new_database = not read_only and path is not None and not path.exists()
    async with cli_services(settings, read_only) as services:
        if args.command == "keys":
            await _run_keys(args, services.keys, out)
        else:
            await _run_clients(args, services.clients, out, stdin)
    if new_database and path is not None:
        print(f"horus: created a new database at {path.absolute()}", file=sys.stderr)


def _fail(message: str, exit_code: int = EXIT_ERROR) -> int:
    print(f"horus: {message}", file=sys.stderr)
    return exit_code


def main(
    argv: Sequence[str] | None = None,
    out: TextIO | None = None,
    stdin: TextIO | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """The `horus` command. Every failure ends in one line on stderr: exit code 2 when the command could not
    begin (usage, configuration, start-up), 1 when it failed (an unknown client, a storage error); never a
    traceback."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not all(_is_utf8(argument) for argument in arguments):
        return _fail("error: an argument is not valid UTF-8", EXIT_USAGE)
    try:
        args = _parser().parse_args(arguments)
    except SystemExit as done:  # --help, --version, or a usage error, printed already
        return done.code if isinstance(done.code, int) else EXIT_USAGE
    out = out or sys.stdout
    env = dict(os.environ if env is None else env)
    if args.command == "serve":
        if args.host:
            env["HORUS_HOST"] = args.host
        if args.port is not None:
            env["HORUS_PORT"] = str(args.port)
        if args.workers is not None:
            env["HORUS_WORKERS"] = str(args.workers)
    try:
        settings = settings_from_env(env)
        configure_logging(settings.log_level)
        if args.command == "serve":
            serve(settings, env)
        else:
            asyncio.run(_run(args, settings, out, stdin or sys.stdin))
    except (ConfigurationError, ServerKeyError) as error:
        return _fail(f"configuration error: {error}", EXIT_USAGE)
    except StartupError as error:
        return _fail(f"cannot start: {error}", EXIT_USAGE)
    except UnknownSigningKey as error:
        return _fail(f"{error}; `horus keys list` shows them")
    except (HorusError, CliError, SigningKeyError) as error:
        return _fail(getattr(error, "message", None) or str(error))
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # a bug: still one line; HORUS_LOG_LEVEL=DEBUG logs where it happened
        LOG.debug("unexpected error", exc_info=True)
        return _fail(f"unexpected error: {error!r} (HORUS_LOG_LEVEL=DEBUG logs where)")
    finally:
        stop_logging()
    return 0


if __name__ == "__main__":
    sys.exit(main())
