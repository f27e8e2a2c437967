"""The versioned schema migrations of the SQL storage adapters, read from migrations/.

NNNN_name.sql applies to every database; NNNN_name.<dialect>.sql (sqlite, postgresql) only to
that one, for what the two spell differently (triggers). Statements end with ";" at the end of
a line, except inside a trigger body (BEGIN ... END) or a $$-quoted function body.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


DIALECTS = ("sqlite", "postgresql")


def load_migrations(dialect: str) -> tuple[Migration, ...]:
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}")
    folder = resources.files("horus.adapters.storage") / "migrations"
    migrations = []
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if not entry.name.endswith(".sql"):
            continue
        stem = entry.name.removesuffix(".sql")
        stem, dot, only_for = stem.partition(".")
        if dot and only_for != dialect:
            continue
        version, _, name = stem.partition("_")
        migrations.append(Migration(int(version), name, split_statements(entry.read_text("utf-8"))))
    return tuple(migrations)


def split_statements(sql: str) -> tuple[str, ...]:
    statements: list[str] = []
    current: list[str] = []
    in_dollar_quote = False
    trigger_depth = 0
    for line in sql.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("--")):
            continue
        current.append(line)
        if line.count("$$") % 2:
            in_dollar_quote = not in_dollar_quote
        upper = stripped.upper()
        if not in_dollar_quote:
            if upper.endswith(" BEGIN") or upper == "BEGIN":
                trigger_depth += 1
            elif trigger_depth and upper in ("END", "END;"):
                trigger_depth -= 1
        if stripped.endswith(";") and not in_dollar_quote and not trigger_depth:
            statements.append("\n".join(current).strip().removesuffix(";").strip())
            current = []
    if "\n".join(current).strip():
        statements.append("\n".join(current).strip())
    return tuple(statements)
