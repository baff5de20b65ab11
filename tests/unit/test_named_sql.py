"""Every statement of the product is named once: a name means one statement, whichever file
it is read from."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from billing.db.queries import queries

SQL_DIR = Path(__file__).resolve().parents[2] / "billing" / "db" / "sql"
_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def _names() -> Counter[str]:
    return Counter(
        name for path in SQL_DIR.glob("*.sql") for name in _NAME.findall(path.read_text())
    )


def test_every_name_is_defined_once() -> None:
    twice = sorted(name for name, count in _names().items() if count > 1)
    assert twice == []


def test_no_two_names_hold_the_same_statement() -> None:
    bodies: dict[str, list[str]] = {}
    for path in sorted(SQL_DIR.glob("*.sql")):
        for name, body in queries(path.stem).items():
            bodies.setdefault(" ".join(body.split()), []).append(f"{path.stem}.{name}")
    assert [names for names in bodies.values() if len(names) > 1] == []


def test_every_statement_is_used() -> None:
    code = "\n".join(
        path.read_text()
        for folder in ("billing", "bench", "tests")
        for path in (SQL_DIR.parents[2] / folder).rglob("*.py")
    )
    unused = sorted(name for name in _names() if not re.search(rf"\.{name}\b", code))
    assert unused == []
