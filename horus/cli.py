"""The `horus` command: serve the API and manage clients, through the same container as the server.

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
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TextIO

from horus.adapters.observability.logs import configure_logging, stop_logging
from horus.adapters.security.server_key import ServerKeyError
from horus.adapters.signing.key_material import SigningKeyError
from horus.adapters.signing.key_ring import KEY_REFRESH_SECONDS, KeyRevocation
from horus.app import Container, build_container, check_startup, create_app, resolved, shutdown
from horus.domain.administration import ClientAdministration, ClientWithSecret
from horus.domain.client import Client
from horus.domain.errors import HorusError
from horus.domain.signing_key import StoredSigningKey, active_key, is_published
from horus.domain.token_request import MAX_CLIENT_SECRET_LENGTH
from horus.settings import ConfigurationError, settings_from_env

EXIT_ERROR = 1
EXIT_USAGE = 2
AUDIT_LOG = logging.getLogger("horus.audit")


class CliError(Exception):
    """A problem the user can fix; printed as one line."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="horus", description="Horus OAuth 2.0 client-credentials token service")
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


def key_state(key: StoredSigningKey, now: datetime, active_kid: str | None) -> str:
    if not is_published(key, now):
        return "retired"
    if key.kid == active_kid:
        return "retiring" if key.retires_at is not None else "active"
    if key.activates_at > now:
        return "pending"
    return "retiring" if key.retires_at is not None else "published"


def key_json(key: StoredSigningKey, state: str) -> dict[str, Any]:
    return {
        "kid": key.kid,
        "algorithm": key.algorithm,
        "state": state,
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
            extra={"action": "key revoked", "kid": kid, "replacement_kid": replacement, "actor": _actor()},
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


async def _run_keys(args: argparse.Namespace, container: Container, out: TextIO) -> None:
    settings = container.settings()
    if settings.signing_alg != "ES256" or settings.signing_key_file is not None:
        raise CliError(
            "key rotation and revocation manage the generated ES256 keys; with HS256 or a key file, change the"
            " configuration"
        )
    keys = await resolved(container.stored_keys())
    if args.action == "revoke":
        _print_revocation(await keys.revoke(args.kid, timedelta(seconds=settings.token_ttl)), args.json, out)
        return
    if args.action == "rotate":
        new, schedule = await keys.rotate(
            timedelta(seconds=settings.key_rotation_lead), timedelta(seconds=settings.token_ttl)
        )
        AUDIT_LOG.info(
            "signing key rotated",
            extra={
                "action": "key rotated",
                "kid": new.kid,
                "activates_at": schedule.activates_at.isoformat(),
                "previous_retire_at": schedule.retire_previous_at.isoformat(),
                "actor": _actor(),
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
    now = container.clock().now()
    stored = await keys.list_keys()
    current = active_key(stored, now)
    rows = [(key, key_state(key, now, current.kid if current else None)) for key in stored]
    if args.json:
        print(json.dumps([key_json(key, state) for key, state in rows]), file=out)
        return
    for key, state in rows:
        retires = key.retires_at.isoformat(timespec="seconds") if key.retires_at else "-"
        print(
            f"{key.kid}  {key.algorithm}  {state:<9}  activates {key.activates_at.isoformat(timespec='seconds')}"
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
    if stdin.isatty():
        secret = getpass.getpass("client secret: ")
    else:
        secret = stdin.read(MAX_CLIENT_SECRET_LENGTH + 3)
        if secret.endswith("\r\n"):
            secret = secret[:-2]
        elif secret.endswith("\n"):
            secret = secret[:-1]
    if not secret:
        raise CliError("no secret on standard input")
    return secret


def _actor() -> str:
    return os.environ.get("SUDO_USER") or os.environ.get("USER") or str(os.getuid())


def _audit(action: str, client_id: str, **details: Any) -> None:
    AUDIT_LOG.info("client %s", action, extra={"action": action, "client_id": client_id, "actor": _actor(), **details})


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
        result = await admin.rotate_secret(args.client_id)
        _audit("secret rotated", result.client.client_id)
        _print_secret(result, args.json, out)
    elif action == "delete":
        await admin.delete(args.client_id)
        _audit("deleted", args.client_id)
        if args.json:
            print(json.dumps({"clientId": args.client_id, "deleted": True}), file=out)
        else:
            print(f"deleted {args.client_id}", file=out)


async def _with_container(container: Container, work: Callable[[Container], Awaitable[None]]) -> None:
    try:
        await work(container)
    finally:
        await shutdown(container)


def _serve(container: Container, env: dict[str, str]) -> None:
    import uvicorn  # only the server needs it

    settings = container.settings()
    asyncio.run(check_startup(container))
    # uvicorn drains in-flight requests on SIGTERM, then re-raises the signal once it has put our
    # handler back: a no-op handler makes that graceful stop end in exit status 0.
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    if settings.workers > 1:
        os.environ.update(env)  # each worker process builds its own container from the same settings
        app: Any = "horus.app:create_app"
    else:
        app = create_app(container, serving=True)
    uvicorn.run(
        app,
        factory=settings.workers > 1,
        workers=settings.workers if settings.workers > 1 else None,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_config=None,
        server_header=False,
        proxy_headers=False,  # HORUS_TRUSTED_PROXIES alone decides whose X-Forwarded-For is believed
        timeout_graceful_shutdown=10,
    )


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, stdin: TextIO | None = None) -> int:
    args = _parser().parse_args(argv)
    out = out or sys.stdout
    env = dict(os.environ)
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
        container = build_container(settings)
        if args.command == "serve":
            _serve(container, env)
        else:

            async def work(container: Container) -> None:
                if args.command == "keys":
                    await _run_keys(args, container, out)
                    return
                admin = await resolved(container.administration())
                await _run_clients(args, admin, out, stdin or sys.stdin)

            asyncio.run(_with_container(container, work))
    except ConfigurationError as error:
        print(f"horus: configuration error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (HorusError, CliError, ServerKeyError, SigningKeyError) as error:
        print(f"horus: {getattr(error, 'message', None) or error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    finally:
        stop_logging()
    return 0


if __name__ == "__main__":
    sys.exit(main())
