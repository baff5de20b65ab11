"""Server-side sessions for the web pages: a signed-in browser holds only a random id.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

from billing.db.migrations import execute_script

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
CREATE TABLE web_sessions (
    id_hash         bytea PRIMARY KEY CHECK (length(id_hash) = 32),
    api_key_id      uuid NOT NULL REFERENCES api_keys (id),
    csrf_token      text NOT NULL CHECK (length(csrf_token) >= 32),
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX web_sessions_key ON web_sessions (api_key_id);
"""
    )


def downgrade() -> None:
    execute_script("DROP TABLE web_sessions;")
