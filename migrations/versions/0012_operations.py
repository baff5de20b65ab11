"""API keys that expire and remember their last use; audit events that carry a request id.

Revision ID: 0012
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from billing.db.migrations import execute_script

revision = "0012"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
ALTER TABLE api_keys
    ADD COLUMN expires_at   timestamptz,
    ADD COLUMN last_used_at timestamptz,
    ADD CONSTRAINT api_keys_expiry_after_creation
        CHECK (expires_at IS NULL OR expires_at > created_at);

-- The request (API `X-Request-Id`, or a worker's sync pass) that made the change: logs and
-- the audit log can be joined on it.
ALTER TABLE audit_events
    ADD COLUMN request_id text CHECK (request_id IS NULL OR length(request_id) BETWEEN 1 AND 200);
"""
    )


def downgrade() -> None:
    execute_script(
        """
ALTER TABLE audit_events DROP COLUMN request_id;
ALTER TABLE api_keys
    DROP CONSTRAINT api_keys_expiry_after_creation,
    DROP COLUMN last_used_at,
    DROP COLUMN expires_at;
"""
    )
