"""The shared Smartcar request budget, and sync bookkeeping.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

from billing.db.migrations import execute_script

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UPGRADE = """
-- One token bucket for the whole deployment: every process draws from this row.
CREATE TABLE smartcar_budget (
    id              smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    tokens          numeric(12, 4) NOT NULL CHECK (tokens >= 0),
    refilled_at     timestamptz NOT NULL DEFAULT now(),
    paused_until    timestamptz
);

-- Every call made to Smartcar, for support (request ids) and for counting spend.
CREATE TABLE smartcar_calls (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    vehicle_id      uuid REFERENCES vehicles (id),
    connection_id   uuid REFERENCES smartcar_connections (id),
    endpoint        text NOT NULL,
    status          integer,
    outcome         text NOT NULL,
    request_id      text,
    worker          text
);
CREATE INDEX smartcar_calls_vehicle ON smartcar_calls (vehicle_id, at);
"""

DOWNGRADE = """
DROP TABLE smartcar_calls;
DROP TABLE smartcar_budget;
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
