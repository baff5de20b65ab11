"""SQL and database calls live in `billing/db/` only.

The code outside the repositories may hold a connection (from `billing.db.pool.connection` or
`transaction`) and hand it to a repository; it never runs a statement itself and holds no SQL.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_SQL = re.compile(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH|CREATE|ALTER|DROP|TRUNCATE|COPY)\s")
_DRIVER_CALLS = frozenset(
    {
        "acquire",
        "fetch",
        "fetchrow",
        "fetchval",
        "execute",
        "executemany",
        "copy_records_to_table",
        "copy_to_table",
        "copy_from_query",
        "cursor",
        "prepare",
        "transaction",
    }
)


def offences(source: str) -> list[tuple[int, str]]:
    """(line, what) for every SQL text and driver call in a module's source."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _SQL.match(node.value):
                found.append((node.lineno, "SQL text"))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _DRIVER_CALLS
        ):
            found.append((node.lineno, f".{node.func.attr}() call"))
    return sorted(found)


def test_no_sql_and_no_driver_call_outside_the_repositories() -> None:
    repositories = ROOT / "billing" / "db"
    found = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in sorted((ROOT / "billing").rglob("*.py"))
        if repositories not in path.parents
        for line, what in offences(path.read_text())
    ]
    assert found == []


def test_the_check_sees_what_it_looks_for() -> None:
    source = (
        "async def f(pool):\n"
        "    async with pool.acquire() as conn:\n"
        "        return await conn.fetchval('SELECT 1')\n"
    )
    assert offences(source) == [(2, ".acquire() call"), (3, ".fetchval() call"), (3, "SQL text")]
