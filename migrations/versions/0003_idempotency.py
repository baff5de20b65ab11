"""Idempotency keys for every mutating request.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from billing.db.migrations import execute_script

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE = """
-- One row per (API key, Idempotency-Key). A request claims its key in a committed row of its
-- own before it runs, so a duplicate sees it in flight; `claim` identifies the attempt, so a
-- late finish of an attempt whose lease expired and was taken over changes nothing.
CREATE TABLE idempotency_keys (
    api_key_id      uuid NOT NULL REFERENCES api_keys (id),
    key             text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    claim           uuid NOT NULL,
    method          text NOT NULL,
    path            text NOT NULL,
    request_hash    bytea NOT NULL CHECK (length(request_hash) = 32),
    state           text NOT NULL DEFAULT 'in_flight' CHECK (state IN ('in_flight', 'done')),
    response_status integer CHECK (response_status IS NULL OR response_status BETWEEN 200 AND 499),
    response_body   bytea,
    response_type   text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- in flight: the end of the attempt's lease; done: the end of the replay period
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (api_key_id, key),
    CHECK ((state = 'done') = (response_status IS NOT NULL))
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
"""

DOWNGRADE = "DROP TABLE idempotency_keys;"


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
