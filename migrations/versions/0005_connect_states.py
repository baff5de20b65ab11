"""One-time Connect `state` values, so a replayed callback is refused.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

from billing.db.migrations import execute_script

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE connect_states (
    nonce       text PRIMARY KEY CHECK (length(nonce) BETWEEN 16 AND 64),
    employee_id uuid NOT NULL REFERENCES employees (id),
    used_at     timestamptz NOT NULL DEFAULT now()
);
"""

DOWNGRADE = "DROP TABLE connect_states;"


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
