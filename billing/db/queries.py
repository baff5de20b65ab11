"""Named SQL blocks loaded once from `billing/db/sql/*.sql`.

A file holds blocks introduced by `-- name: some_query`; `queries("fleets").some_query`
is the block's text. SQL stays SQL: static, parameterised with $1, never built from input.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import LiteralString, cast

_SQL_DIR = Path(__file__).with_name("sql")
_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


class Queries:
    def __init__(self, blocks: dict[str, LiteralString]) -> None:
        self._blocks = blocks

    def items(self) -> list[tuple[str, LiteralString]]:
        """(name, statement) of every block in the file, in order."""
        return list(self._blocks.items())

    def __getattr__(self, name: str) -> LiteralString:
        try:
            return self._blocks[name]
        except KeyError:
            raise AttributeError(f"no query named {name!r}") from None


@cache
def queries(module: str) -> Queries:
    text = (_SQL_DIR / f"{module}.sql").read_text()
    parts = _NAME.split(text)
    blocks = {
        name: cast(LiteralString, body.strip())
        for name, body in zip(parts[1::2], parts[2::2], strict=True)
    }
    return Queries(blocks)
