"""Real `horus` processes for the integration tests: the CLI as a subprocess, and a server on a free port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

_CONSOLE_SCRIPT = Path(sys.executable).with_name("horus")
HORUS: tuple[str, ...] = (str(_CONSOLE_SCRIPT),) if _CONSOLE_SCRIPT.exists() else (sys.executable, "-m", "horus")
LEGACY_TOKEN_PATH = "/v1/nonspec/oauth2/auth/server"
JWKS_PATH = "/.well-known/jwks.json"
STARTUP_TIMEOUT = 15.0
T = TypeVar("T")


def horus_env(directory: Path, **settings: str) -> dict[str, str]:
    """The caller's environment without any HORUS_* variable, storage in `directory`, plus `settings`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("HORUS_")}
    env["HORUS_STORAGE"] = f"sqlite:///{directory / 'horus.db'}"
    env.update(settings)
    return env


@dataclass(frozen=True, slots=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_horus(
    args: Sequence[str], env: Mapping[str, str], cwd: Path, stdin: str = "", timeout: float = 30
) -> CliResult:
    completed = subprocess.run(
        [*HORUS, *args],
        env=dict(env),
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return CliResult(completed.returncode, completed.stdout, completed.stderr)


def create_client(env: Mapping[str, str], cwd: Path, *options: str) -> tuple[str, str]:
    """`horus clients create --json` with options; returns (clientId, clientSecret)."""
    result = run_horus(["clients", "create", "--json", *options], env, cwd)
    assert 0 == result.exit_code, result.stderr
    created = result.json()
    return created["clientId"], created["clientSecret"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def eventually(attempt: Callable[[], T], done: Callable[[T], bool], timeout: float = 5.0, interval: float = 0.05) -> T:
    """Repeats `attempt` until `done` holds for its result or `timeout` seconds pass; returns the last result.

    Attempts that fail authentication count towards the server's brute-force throttle
    (10 per clientId a minute by default): poll those with an `interval` of 0.5 s or more.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = attempt()
        if done(result) or time.monotonic() >= deadline:
            return result
        time.sleep(interval)


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    port: int
    stderr_path: Path
    ops_port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ops_url(self) -> str:
        """The operator listener: /metrics, /health, /ready."""
        return f"http://127.0.0.1:{self.ops_port}"

    @property
    def issuer(self) -> str:
        """The default issuer (and audience) of a server started with --port and no HORUS_ISSUER."""
        return self.base_url

    @property
    def jwks_url(self) -> str:
        return self.base_url + JWKS_PATH

    def request_token(
        self, client_id: str, client_secret: str, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        body = {"grantType": "client_credentials", "clientId": client_id, "clientSecret": client_secret}
        return httpx.post(self.base_url + LEGACY_TOKEN_PATH, json=body, headers=dict(headers or {}), timeout=10)

    def log_text(self) -> str:
        """Everything the server wrote on stderr so far (every run sharing this file, restarts included)."""
        return self.stderr_path.read_text("utf-8")

    def log_lines(self) -> list[dict[str, Any]]:
        """The complete JSON lines so far; a line the server is still writing is left for the next read."""
        text = self.log_text()
        complete = text[: text.rfind("\n") + 1]
        return [json.loads(line) for line in complete.splitlines() if line.strip()]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout)


def _wait_until_ready(server: RunningServer) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"horus serve exited with {server.process.returncode}:\n{server.log_text()}")
        try:
            if httpx.get(server.jwks_url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"horus serve did not answer within {STARTUP_TIMEOUT} s:\n{server.log_text()}")


@contextmanager
def running_server(
    env: Mapping[str, str],
    cwd: Path,
    port: int | None = None,
    stderr_path: Path | None = None,
    options: tuple[str, ...] = (),
) -> Iterator[RunningServer]:
    """`horus serve` on a free port (and its operator listener on another, unless HORUS_OPS_PORT is given), ready
    to answer; stderr appended to a file; always stopped, killed if need be."""
    port = port or free_port()
    env = dict(env)
    while "HORUS_OPS_PORT" not in env or env["HORUS_OPS_PORT"] == str(port):
        env["HORUS_OPS_PORT"] = str(free_port())
    stderr_path = stderr_path or cwd / "serve.stderr.log"
    with stderr_path.open("ab") as stderr:
        process = subprocess.Popen(
            [*HORUS, "serve", "--port", str(port), *options],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    server = RunningServer(process, port, stderr_path, int(env["HORUS_OPS_PORT"]))
    try:
        _wait_until_ready(server)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
