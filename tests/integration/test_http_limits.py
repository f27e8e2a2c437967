"""What one connection may cost a real `horus serve` (issue 14 item 8), seen through raw sockets.

Before, uvicorn's defaults held: a 200 MB header was buffered whole, connections that sent nothing,
half a head or one byte at a time stayed open past 65 s, and idle connections were accepted until the
process ran out of file descriptors.
"""

from __future__ import annotations

import resource
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing
from pathlib import Path

import httpx
import pytest

from tests.integration.processes import HORUS, RunningServer, eventually, free_port, horus_env, running_server

pytestmark = pytest.mark.slow

TIMEOUT = 1.0
"""HORUS_HTTP_REQUEST_TIMEOUT and HORUS_HTTP_KEEP_ALIVE_TIMEOUT of the `quick` server (10 s and 5 s by default)."""
GRACE = 4.0
"""How much later than its timeout a connection may close on a loaded machine, and still pass."""
HEALTH = b"GET /health HTTP/1.1\r\nhost: horus\r\n"


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    workdir = tmp_path_factory.mktemp("limits")
    env = horus_env(
        workdir, HORUS_HTTP_REQUEST_TIMEOUT=str(int(TIMEOUT)), HORUS_HTTP_KEEP_ALIVE_TIMEOUT=str(int(TIMEOUT))
    )
    with running_server(env, workdir) as server:
        yield server


def connect(server: RunningServer, port: int | None = None) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", port or server.port), timeout=TIMEOUT + GRACE + 5)
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def answer(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or resets it)."""
    received = b""
    try:
        while chunk := connection.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def one_response(connection: socket.socket) -> bytes:
    """One whole response on a connection that stays open (its head, then content-length bytes of body)."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += connection.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))[15:])
    while len(body) < length:
        body += connection.recv(65536)
    return head + b"\r\n\r\n" + body


def seconds_until_closed(connection: socket.socket) -> float:
    started = time.monotonic()
    answer(connection)
    return time.monotonic() - started


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else 0


def server_memory_kib(server: RunningServer) -> int:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])


@pytest.mark.parametrize(
    "head",
    [
        HEALTH + b"x-big: " + b"a" * 17000 + b"\r\n\r\n",
        HEALTH + b"".join(b"x-%d: 1\r\n" % index for index in range(101)) + b"\r\n",
        b"GET /health?" + b"q" * 17000 + b" HTTP/1.1\r\nhost: horus\r\n\r\n",
    ],
    ids=["a 17 KB header", "101 headers", "a 17 KB request target"],
)
def test_a_head_over_the_limits_is_answered_431_and_the_connection_closed(quick: RunningServer, head: bytes) -> None:
    with closing(connect(quick)) as connection:
        connection.sendall(head)
        assert 431 == status_of(answer(connection))


def test_a_head_within_the_limits_is_served(quick: RunningServer) -> None:
    head = (
        HEALTH + b"".join(b"x-%d: %s\r\n" % (index, b"v" * 100) for index in range(90)) + b"connection: close\r\n\r\n"
    )
    with closing(connect(quick)) as connection:
        connection.sendall(head)
        assert 200 == status_of(answer(connection))


def test_a_body_larger_than_the_header_limit_is_no_header(quick: RunningServer) -> None:
    """Head and a 20 KB body in one write: the app answers (413, its body limit), not the head's limit."""
    body = b'{"grantType":"' + b"g" * 20000 + b'"}'
    head = b"POST /v1/nonspec/oauth2/auth/server HTTP/1.1\r\nhost: horus\r\ncontent-type: application/json\r\n"
    with closing(connect(quick)) as connection:
        connection.sendall(head + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body) + body)
        assert 413 == status_of(answer(connection))


def test_a_later_request_on_a_connection_has_the_same_head_limit(quick: RunningServer) -> None:
    with closing(connect(quick)) as connection:
        connection.sendall(HEALTH + b"\r\n")
        assert 200 == status_of(one_response(connection))
        connection.sendall(HEALTH + b"x-big: " + b"a" * 17000 + b"\r\n\r\n")
        assert 431 == status_of(answer(connection))


def test_a_pipelined_head_over_the_limit_ends_the_connection_after_the_answer_before_it(quick: RunningServer) -> None:
    with closing(connect(quick)) as connection:
        connection.sendall(HEALTH + b"\r\n" + HEALTH + b"x-big: " + b"a" * 17000 + b"\r\n\r\n")
        received = answer(connection)
    assert (200, 1) == (status_of(received), received.count(b"HTTP/1.1 "))


def test_a_200_mb_header_is_refused_before_the_server_holds_it(quick: RunningServer) -> None:
    before = server_memory_kib(quick)
    sent = 0
    with closing(connect(quick)) as connection:
        connection.sendall(HEALTH + b"x-big: ")
        try:
            while sent < 200 * 1024 * 1024:
                connection.sendall(b"a" * 65536)
                sent += 65536
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer(connection)
    grown = server_memory_kib(quick) - before
    assert sent < 32 * 1024 * 1024  # refused after the first 16 KiB; the rest filled the sockets' buffers
    assert grown < 8 * 1024, f"the server grew by {grown} KiB"


@pytest.mark.parametrize(
    "opening",
    [
        b"",
        b"GET /health HTTP/1.1\r\nhost: ho",
        b"POST /v1/nonspec/oauth2/auth/server HTTP/1.1\r\ncontent-type: application/json\r\n"
        b"content-length: 100\r\n\r\n{",
    ],
    ids=["nothing", "half a head", "half a body"],
)
def test_a_request_not_complete_within_the_request_timeout_is_closed(quick: RunningServer, opening: bytes) -> None:
    with closing(connect(quick)) as connection:
        connection.sendall(opening)
        assert TIMEOUT * 0.9 <= seconds_until_closed(connection) < TIMEOUT + GRACE


def test_a_connection_trickling_a_head_is_closed_within_the_request_timeout(quick: RunningServer) -> None:
    """A slowloris: one byte every 50 ms, which no read timeout between two bytes would ever catch."""
    started = time.monotonic()
    with closing(connect(quick)) as connection:
        try:
            for byte in (HEALTH + b"x-slow: " + b"s" * 1000).decode():
                connection.sendall(byte.encode())
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer(connection)
    assert time.monotonic() - started < TIMEOUT + GRACE


def test_a_slow_request_within_the_request_timeout_is_served(quick: RunningServer) -> None:
    with closing(connect(quick)) as connection:
        for part in (b"GET /health HTT", b"P/1.1\r\nhost: ho", b"rus\r\nconnection: close\r\n\r\n"):
            connection.sendall(part)
            time.sleep(TIMEOUT / 5)
        assert 200 == status_of(answer(connection))


def test_an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout(quick: RunningServer) -> None:
    with closing(connect(quick)) as connection:
        connection.sendall(HEALTH + b"\r\n")
        assert status_of(one_response(connection)) == 200
        assert TIMEOUT * 0.9 <= seconds_until_closed(connection) < TIMEOUT + GRACE


def test_connections_over_the_cap_are_closed_at_once_and_the_operator_listener_still_answers(tmp_path: Path) -> None:
    cap = 20
    with (
        running_server(horus_env(tmp_path, HORUS_HTTP_MAX_CONNECTIONS=str(cap)), tmp_path) as server,
        ExitStack() as held,
    ):
        idle = [held.enter_context(closing(connect(server))) for _ in range(cap)]
        time.sleep(0.2)  # every one accepted
        with closing(connect(server)) as over:
            over.sendall(HEALTH + b"\r\n")
            assert (b"", True) == (answer(over), seconds_until_closed(over) < 1)
        assert 200 == httpx.get(server.ops_url + "/metrics", timeout=5).status_code
        idle[0].sendall(HEALTH + b"\r\n")  # those within the cap are served
        assert 200 == status_of(one_response(idle[0]))
        for connection in idle:
            connection.close()
        time.sleep(0.2)
        assert 200 == httpx.get(server.base_url + "/health", timeout=5).status_code


def limited_open_files(soft: int, hard: int) -> Callable[[], None]:
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_serve_raises_the_open_file_limit_to_fit_the_connection_cap(tmp_path: Path) -> None:
    env = horus_env(tmp_path, HORUS_HTTP_MAX_CONNECTIONS="1000", HORUS_OPS_PORT=str(free_port()))
    port = free_port()
    process = subprocess.Popen(
        [*HORUS, "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.DEVNULL,
        preexec_fn=limited_open_files(300, 4096),
    )
    try:
        eventually(lambda: _answers(port), bool, timeout=15)
        limits = Path(f"/proc/{process.pid}/limits").read_text()
        [soft] = [line.split()[3] for line in limits.splitlines() if line.startswith("Max open files")]
        assert 1000 < int(soft) <= 4096
    finally:
        process.terminate()
        process.wait(10)


def test_serve_with_a_connection_cap_above_the_open_file_limit_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    env = horus_env(tmp_path, HORUS_HTTP_MAX_CONNECTIONS="1000", HORUS_OPS_PORT=str(free_port()))
    completed = subprocess.run(
        [*HORUS, "serve", "--port", str(free_port())],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        preexec_fn=limited_open_files(300, 300),
    )
    [line] = completed.stderr.strip().splitlines()
    assert 2 == completed.returncode
    assert line.startswith("horus: configuration error: HORUS_HTTP_MAX_CONNECTIONS: 1000 connections need")


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
