"""The README's error-code table is a copy of the domain's; this keeps the copy true."""

from __future__ import annotations

from pathlib import Path

from horus.domain.errors import ERROR_TABLE

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_error_table_matches_the_domain_table() -> None:
    text = README.read_text("utf-8")
    section = text.split("<!-- error-table:start -->")[1].split("<!-- error-table:end -->")[0]
    rows = section.strip().splitlines()[2:]
    expected = [f"| {int(row.code)} | {row.code.http_status} | {row.meaning} |" for row in ERROR_TABLE]
    assert expected == rows
