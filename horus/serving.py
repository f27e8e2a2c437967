"""`horus serve`: one uvicorn server on two listeners (public and operator), in one process or several workers.

The sockets are bound here before the application starts, so a taken port is one line and exit code 2,
never a half-started server.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
import os
import resource
import signal
import socket
import tempfile
from collections.abc import Mapping
from typing import Any

from horus.adapters.http.listeners import BoundedHttpToolsProtocol, HttpLimits
from horus.app import WORKER_METRICS_VARIABLE, StartupError, build_container, check_startup, create_app
from horus.settings import ConfigurationError, Settings

LOG = logging.getLogger("horus.serve")


def _listening_socket(host: str, port: int, choose: str) -> socket.socket:
    """A server socket, bound before anything starts (uvicorn's own way of binding, which it does for its
    workers): a port in use is then one line and exit code 2, not a started application that stops again."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise StartupError(f"cannot listen on {host}:{port}: {error.strerror or error}; choose {choose}") from None
    listener.set_inheritable(True)  # for the worker processes
    return listener


def _listening_sockets(settings: Settings) -> tuple[socket.socket, socket.socket]:
    """The public listener and the operator listener (/metrics), which requests are told apart by: their port."""
    public = _listening_socket(
        settings.host, settings.port, "another port (--port, HORUS_PORT) or address (--host, HORUS_HOST)"
    )
    try:
        operator = _listening_socket(
            settings.ops_host, settings.ops_port, "another port for the operator endpoints (HORUS_OPS_PORT)"
        )
    except StartupError:
        public.close()
        raise
    if public.getsockname()[1] == settings.ops_port:  # port 0 may pick the operator's port on another address
        public.close()
        operator.close()
        raise StartupError(f"port 0 picked {settings.ops_port}, the operator listener's port; give a port")
    if ipaddress.ip_address(operator.getsockname()[0]).is_unspecified:
        LOG.warning("the operator endpoints (/metrics) are reachable on every address (HORUS_OPS_HOST)")
    return public, operator


FILE_DESCRIPTORS_BESIDE_CONNECTIONS = 256
"""Storage connections, log and database files, the operator listener's connections: a generous allowance."""


def _allow_file_descriptors(max_connections: int) -> None:
    """Raises the process's soft limit on open files (ulimit -n) to what HORUS_HTTP_MAX_CONNECTIONS needs, within
    the hard limit: the connection cap must be reached before the descriptors run out, or accept() fails."""
    needed = max_connections + FILE_DESCRIPTORS_BESIDE_CONNECTIONS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise ConfigurationError(
            f"HORUS_HTTP_MAX_CONNECTIONS: {max_connections} connections need {needed} open files, the limit is"
            f" {hard} (ulimit -Hn): lower HORUS_HTTP_MAX_CONNECTIONS or raise the limit"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def serve(settings: Settings, env: Mapping[str, str]) -> None:
    """Runs until SIGTERM or SIGINT; raises StartupError or ConfigurationError when it cannot start."""
    import uvicorn  # only the server needs it
    from uvicorn.supervisors import Multiprocess

    asyncio.run(check_startup(settings))
    _allow_file_descriptors(settings.http.max_connections)
    public, operator = _listening_sockets(settings)  # before the application starts
    try:
        # uvicorn drains in-flight requests on SIGTERM, then re-raises the signal once it has put our
        # handler back: a no-op handler makes that graceful stop end in exit status 0.
        signal.signal(signal.SIGTERM, lambda signum, frame: None)
        several = settings.workers > 1
        with contextlib.ExitStack() as cleanup:
            if several:
                os.environ.update(env)  # each worker process builds its own container from the same settings
                metrics_dir = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="horus-metrics-"))
                os.environ[WORKER_METRICS_VARIABLE] = metrics_dir  # where the workers add up their metrics
            app: Any = "horus.app:create_app" if several else create_app(build_container(settings), serving=True)
            config = uvicorn.Config(
                app,
                factory=several,
                workers=settings.workers,
                host=settings.host,
                port=public.getsockname()[1],
                loop="uvloop",
                http=bounded_http_protocol(settings.http, operator.getsockname()[1]),
                timeout_keep_alive=settings.http.keep_alive_timeout,
                lifespan="on",
                access_log=False,
                log_config=None,
                server_header=False,
                proxy_headers=False,  # HORUS_TRUSTED_PROXIES alone decides whose X-Forwarded-For is believed
                timeout_graceful_shutdown=10,
            )
            LOG.info(
                "listening on %s:%d, operator endpoints on %s:%d",
                settings.host,
                config.port,
                settings.ops_host,
                settings.ops_port,
                extra={"issuer": settings.issuer},
            )
            if several:
                Multiprocess(config, sockets=[public, operator]).run()
                return
            server = uvicorn.Server(config)
            with contextlib.suppress(SystemExit):  # uvicorn's way out when the application's start-up fails
                server.run(sockets=[public, operator])
            if not server.started:
                raise StartupError("the application did not start; the log lines above say why")
    finally:
        public.close()
        operator.close()


def bounded_http_protocol(limits: HttpLimits, operator_port: int) -> Any:
    """uvicorn's `http` option: its httptools protocol with Horus's limits. A partial, not a class made here,
    so that uvicorn can hand it to worker processes (it pickles the config)."""
    return functools.partial(BoundedHttpToolsProtocol, limits=limits, uncapped_ports=frozenset({operator_port}))
