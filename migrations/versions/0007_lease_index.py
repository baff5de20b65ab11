"""An index on the leases in flight, which the shared budget counts on every grant.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from __future__ import annotations

from billing.db.migrations import execute_script

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        "CREATE INDEX vehicles_leased ON vehicles (lease_until) WHERE lease_until IS NOT NULL;"
    )


def downgrade() -> None:
    execute_script("DROP INDEX vehicles_leased;")
