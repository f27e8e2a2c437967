"""The token-endpoint benchmark: a real `horus serve` on one core, wrk on the other, ratios against the floor.

    python bench/run.py [--duration 10] [--repetitions 5] [--warmup 3] [--scenarios a,b,c,d]

The floor is the same stack (uvicorn + uvloop + httptools, same Litestar) answering a JSON
POST that does no work, measured in the same run; every scenario is reported as a ratio of
it, and of "floor+es256", the same endpoint plus one ES256 signature: the most any token
endpoint that signs each token with ES256 could reach here. Results go to
bench/results/<UTC time>.json and a Markdown table is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote_plus

ROOT = Path(__file__).resolve().parents[1]
LUA = ROOT / "bench" / "lua" / "bodies.lua"
RESULTS = ROOT / "bench" / "results"
LEGACY = "/v1/nonspec/oauth2/auth/server"
STANDARD = "/v1/oauth/token"
SERVER_CPU, LOAD_CPU = "0", "1"
CONNECTIONS = 64
MANY_CLIENTS = 10_000
LEGACY_SECRET = "b3209806-42da-402d-92dc-ab2f3ef8608b"


@dataclass
class Scenario:
    name: str
    description: str
    path: str
    lines: list[str]
    content_type: str = "application/json"
    attack_share: float = 0.0


@dataclass
class Measurement:
    name: str
    description: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    statuses: dict[str, int]
    repetitions: list[dict[str, float]] = field(default_factory=list)
    ratio_to_floor: float | None = None
    ratio_to_signed_floor: float | None = None
    valid_requests_per_second: float | None = None


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk not found: installing Debian's wrk", file=sys.stderr)
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, stdout=subprocess.DEVNULL)
    found = shutil.which("wrk")
    if not found:
        subprocess.run(["apt-get", "update", "-q"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, stdout=subprocess.DEVNULL)
        found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is required and could not be installed")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(cpu: str, command: list[str]) -> list[str]:
    return ["taskset", "-c", cpu, *command] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else command


@contextmanager
def server(command: list[str], port: int, env: dict[str, str], log: Path) -> Iterator[None]:
    with log.open("wb") as output:
        process = subprocess.Popen(pinned(SERVER_CPU, command), env=env, stdout=output, stderr=output)
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    raise SystemExit(f"server exited early: {log.read_text(errors='replace')[-2000:]}")
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit("server did not start in 30 s") from None
                    time.sleep(0.1)
            yield
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def run_wrk(wrk: str, url: str, scenario: Scenario, seconds: float, workdir: Path) -> dict[str, object]:
    bodies = workdir / f"{scenario.name}.bodies"
    bodies.write_text("\n".join(scenario.lines) + "\n")
    env = {**os.environ, "BODIES_FILE": str(bodies), "CONTENT_TYPE": scenario.content_type}
    command = pinned(
        LOAD_CPU,
        [
            wrk,
            "-t1",
            f"-c{CONNECTIONS}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-s",
            str(LUA),
            url + scenario.path,
        ],
    )
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH_JSON "))
    return json.loads(line.removeprefix("BENCH_JSON "))  # type: ignore[no-any-return]


def measure(wrk: str, url: str, scenario: Scenario, args: argparse.Namespace, workdir: Path) -> Measurement:
    run_wrk(wrk, url, scenario, args.warmup, workdir)
    runs = [run_wrk(wrk, url, scenario, args.duration, workdir) for _ in range(args.repetitions)]
    per_run = []
    statuses: dict[str, int] = {}
    for run in runs:
        seconds = run["duration_us"] / 1e6  # type: ignore[operator]
        run_statuses: dict[str, int] = run["statuses"]  # type: ignore[assignment]
        for status, count in run_statuses.items():
            statuses[status] = statuses.get(status, 0) + count
        per_run.append(
            {
                "requests_per_second": run["requests"] / seconds,  # type: ignore[operator]
                "valid_per_second": run_statuses.get("200", 0) / seconds,
                "p50_ms": run["p50_us"] / 1000,  # type: ignore[operator]
                "p99_ms": run["p99_us"] / 1000,  # type: ignore[operator]
                "socket_errors": run["errors"],
            }
        )
    non_2xx = sum(count for status, count in statuses.items() if not status.startswith("2"))
    measurement = Measurement(
        name=scenario.name,
        description=scenario.description,
        requests_per_second=statistics.median(r["requests_per_second"] for r in per_run),
        p50_ms=statistics.median(r["p50_ms"] for r in per_run),
        p99_ms=statistics.median(r["p99_ms"] for r in per_run),
        non_2xx=non_2xx,
        socket_errors=int(sum(r["socket_errors"] for r in per_run)),
        statuses=statuses,
        repetitions=per_run,
    )
    if scenario.attack_share:
        measurement.valid_requests_per_second = statistics.median(r["valid_per_second"] for r in per_run)
    return measurement


POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


async def postgres_database(statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(POSTGRES_ADMIN, timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def seed_one(env: dict[str, str]) -> tuple[str, str]:
    from horus.app import build_container, resolved, shutdown
    from horus.settings import settings_from_env

    container = build_container(settings_from_env(env))
    try:
        created = await (await resolved(container.administration())).create(client_id="bench-pg", scope="read")
        await resolved(container.key_ring())
    finally:
        await shutdown(container)
    assert created.secret is not None
    return created.client.client_id, created.secret


async def seed(env: dict[str, str]) -> dict[str, object]:
    """Registers the benchmark's clients through Horus's own administration use case."""
    from horus.app import build_container, resolved, shutdown
    from horus.settings import settings_from_env

    container = build_container(settings_from_env(env))
    try:
        admin = await resolved(container.administration())
        one = await admin.create(client_id="bench-generated", scope="read write")
        await admin.create(client_id="bench-imported", imported_secret=LEGACY_SECRET)
        many = []
        for index in range(MANY_CLIENTS):
            created = await admin.create(client_id=f"bench-many-{index:05d}")
            many.append((created.client.client_id, created.secret))
        await resolved(container.key_ring())
    finally:
        await shutdown(container)
    return {"one": (one.client.client_id, one.secret), "many": many}


def legacy_body(client_id: str, secret: str) -> str:
    return json.dumps({"grantType": "client_credentials", "clientId": client_id, "clientSecret": secret})


def basic_line(client_id: str, secret: str, forwarded: str = "") -> str:
    token = base64.b64encode(f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()).decode()
    return f"grant_type=client_credentials\tBasic {token}\t{forwarded}"


def scenarios(seeded: dict[str, object]) -> list[Scenario]:
    one_id, one_secret = seeded["one"]  # type: ignore[misc]
    many: list[tuple[str, str]] = seeded["many"]  # type: ignore[assignment]
    # Attackers present a well-formed secret (another client's) for a victim id, from their own addresses.
    attack: list[str] = []
    for index in range(100):
        if index % 10 == 9:
            victim = many[index][0]
            attack.append(legacy_body(victim, many[index + 1][1]) + f"\t\t10.66.{index // 256}.{index % 256}")
        else:
            attack.append(legacy_body(one_id, one_secret) + "\t\t")
    form = "application/x-www-form-urlencoded"
    return [
        Scenario("a", "one client, generated secret (legacy endpoint)", LEGACY, [legacy_body(one_id, one_secret)]),
        Scenario(
            "a-std",
            "one client, generated secret (standard endpoint, Basic)",
            STANDARD,
            [basic_line(one_id, one_secret)],
            form,
        ),
        Scenario(
            "b",
            "one client, imported argon2id secret (legacy endpoint)",
            LEGACY,
            [legacy_body("bench-imported", LEGACY_SECRET)],
        ),
        Scenario(
            "b-std",
            "one client, imported argon2id secret (standard endpoint)",
            STANDARD,
            [basic_line("bench-imported", LEGACY_SECRET)],
            form,
        ),
        Scenario(
            "c",
            f"{MANY_CLIENTS} clients, generated secrets, round robin (legacy)",
            LEGACY,
            [legacy_body(client_id, secret) for client_id, secret in many],
        ),
        Scenario(
            "c-std",
            f"{MANY_CLIENTS} clients, round robin (standard endpoint)",
            STANDARD,
            [basic_line(client_id, secret) for client_id, secret in many],
            form,
        ),
        Scenario(
            "d", "(a) plus 10% wrong-secret requests for other client ids (legacy)", LEGACY, attack, attack_share=0.1
        ),
    ]


def measure_postgresql(wrk: str, args: argparse.Namespace, workdir: Path, env: dict[str, str]) -> Measurement:
    """(e): scenario (a) with PostgreSQL storage, in a database of its own."""
    name = "horus_bench_" + secrets.token_hex(4)
    asyncio.run(postgres_database(f"CREATE DATABASE {name}"))
    try:
        pg_env = {**env, "HORUS_STORAGE": f"postgresql://postgres@127.0.0.1:5432/{name}"}
        client_id, secret = asyncio.run(seed_one(pg_env))
        port = free_port()
        print("measuring e: one client, PostgreSQL storage (legacy) ...", file=sys.stderr)
        with server(
            [sys.executable, "-m", "horus", "serve", "--port", str(port)], port, pg_env, workdir / "horus-pg.log"
        ):
            scenario = Scenario(
                "e",
                "one client, generated secret, PostgreSQL storage (legacy)",
                LEGACY,
                [legacy_body(client_id, secret)],
            )
            measurement = measure(wrk, f"http://127.0.0.1:{port}", scenario, args, workdir)
    finally:
        asyncio.run(postgres_database(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    return measurement


def markdown(floor: Measurement, signed_floor: Measurement, measurements: list[Measurement]) -> str:
    rows = [
        "| scenario | req/s | ratio to floor | ratio to floor+es256 | p50 ms | p99 ms | non-2xx |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in [floor, signed_floor, *measurements]:
        ratio = f"{m.ratio_to_floor:.2f}" if m.ratio_to_floor is not None else "1.00"
        signed_ratio = f"{m.ratio_to_signed_floor:.2f}" if m.ratio_to_signed_floor is not None else ""
        throughput = f"{m.requests_per_second:,.0f}"
        if m.valid_requests_per_second is not None:
            throughput += f" (valid {m.valid_requests_per_second:,.0f})"
        rows.append(
            f"| {m.name}: {m.description} | {throughput} | {ratio} | {signed_ratio} | {m.p50_ms:.2f} | "
            f"{m.p99_ms:.2f} | {m.non_2xx} {json.dumps(m.statuses) if m.non_2xx else ''} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10, help="seconds per repetition (default 10)")
    parser.add_argument("--repetitions", type=int, default=5, help="repetitions per scenario (default 5)")
    parser.add_argument("--warmup", type=float, default=3, help="warm-up seconds per scenario (default 3)")
    parser.add_argument("--scenarios", default="", help="comma-separated names to run (default: all)")
    args = parser.parse_args()
    wrk = ensure_wrk()
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="horus-bench-") as tmp:
        workdir = Path(tmp)
        env = {
            **os.environ,
            "HORUS_STORAGE": f"sqlite:///{workdir / 'bench.db'}",
            "HORUS_SECRET_KEY": secrets.token_urlsafe(32),
            "HORUS_TRUSTED_PROXIES": "127.0.0.1",
        }
        print(f"seeding {MANY_CLIENTS + 2} clients ...", file=sys.stderr)
        seeded = asyncio.run(seed(env))
        selected = [s for s in scenarios(seeded) if not args.scenarios or s.name in args.scenarios.split(",")]

        port = free_port()
        floor_command = [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.floor_app:app",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        print("measuring the floor ...", file=sys.stderr)
        with server(floor_command, port, {**env, "PYTHONPATH": str(ROOT)}, workdir / "floor.log"):
            floor = measure(
                wrk,
                f"http://127.0.0.1:{port}",
                Scenario("floor", "empty JSON POST, same stack", "/floor", ["{}"]),
                args,
                workdir,
            )
            print("measuring the floor plus one ES256 signature ...", file=sys.stderr)
            signed_floor = measure(
                wrk,
                f"http://127.0.0.1:{port}",
                Scenario("floor+es256", "the floor plus one ES256 signature (bound)", "/floor-es256", ["{}"]),
                args,
                workdir,
            )
            signed_floor.ratio_to_floor = signed_floor.requests_per_second / floor.requests_per_second
        port = free_port()
        horus = [sys.executable, "-m", "horus", "serve", "--port", str(port)]
        measurements = []
        with server(horus, port, env, workdir / "horus.log"):
            for scenario in selected:
                print(f"measuring {scenario.name}: {scenario.description} ...", file=sys.stderr)
                measurement = measure(wrk, f"http://127.0.0.1:{port}", scenario, args, workdir)
                measurements.append(measurement)

        if not args.scenarios or "e" in args.scenarios.split(","):
            measurements.append(measure_postgresql(wrk, args, workdir, env))
    for measurement in measurements:
        throughput = measurement.valid_requests_per_second or measurement.requests_per_second
        measurement.ratio_to_floor = throughput / floor.requests_per_second
        measurement.ratio_to_signed_floor = throughput / signed_floor.requests_per_second

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report = {
        "time": stamp,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "settings": {
            "connections": CONNECTIONS,
            "duration_s": args.duration,
            "repetitions": args.repetitions,
            "warmup_s": args.warmup,
            "server_cpu": SERVER_CPU,
            "load_cpu": LOAD_CPU,
        },
        "floor": asdict(floor),
        "signed_floor": asdict(signed_floor),
        "scenarios": [asdict(m) for m in measurements],
    }
    (RESULTS / f"{stamp}.json").write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(floor, signed_floor, measurements))
    print(f"\nwritten to bench/results/{stamp}.json", file=sys.stderr)


if __name__ == "__main__":
    main()
