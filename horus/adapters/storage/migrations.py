"""The versioned schema migrations shared by every SQL storage adapter, read from migrations/NNNN_name.sql."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


def load_migrations() -> tuple[Migration, ...]:
    folder = resources.files("horus.adapters.storage") / "migrations"
    migrations = []
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if not entry.name.endswith(".sql"):
            continue
        version, _, name = entry.name.removesuffix(".sql").partition("_")
        migrations.append(Migration(int(version), name, _split_statements(entry.read_text("utf-8"))))
    return tuple(migrations)


def _split_statements(sql: str) -> tuple[str, ...]:
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return tuple(statement.strip() for statement in "\n".join(lines).split(";") if statement.strip())
