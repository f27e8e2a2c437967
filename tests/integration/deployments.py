"""The three shapes a deployment of Horus takes, as real `horus serve` processes: one process on SQLite,
`--workers 4` on SQLite, and two instances on one PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.integration.postgresql_databases import database_for_processes, database_url
from tests.integration.processes import RunningServer, horus_env, running_server

SHAPES = ("one process", "four workers", "two instances")


@dataclass(frozen=True, slots=True)
class Deployment:
    servers: list[RunningServer]
    env: dict[str, str]
    processes: int
    """How many processes serve: a burst may pass a limit by at most this minus one."""

    @property
    def urls(self) -> list[str]:
        return [server.base_url for server in self.servers]


@contextmanager
def deployment(shape: str, directory: Path, **settings: str) -> Iterator[Deployment]:
    """A running deployment of the given shape, with `settings` (HORUS_* variables) for every process."""
    with ExitStack() as stack:
        if shape == "two instances":
            database = stack.enter_context(database_for_processes())
            env = horus_env(
                directory,
                HORUS_STORAGE=database_url(database),
                HORUS_SECRET_KEY="shared-server-key-for-all-instances-0123456789",
                HORUS_ISSUER="https://horus.test",
                **settings,
            )
            servers = [
                stack.enter_context(running_server(env, directory, stderr_path=directory / f"{name}.log"))
                for name in ("a", "b")
            ]
            yield Deployment(servers, env, processes=2)
            return
        env = horus_env(directory, **settings)
        workers = 4 if shape == "four workers" else 1
        server = stack.enter_context(running_server(env, directory, options=("--workers", str(workers))))
        yield Deployment([server], env, processes=workers)
