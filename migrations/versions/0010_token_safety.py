"""Tokens nobody can read, refresh-token fingerprints, and no dead refresh tokens at rest.

- `needs_key`: a connection whose stored tokens no configured BILLING_SECRET_KEY decrypts;
  its vehicles are not claimed (no budget is spent on them) until a process that can read
  it says so.
- `smartcar_refresh_fingerprints`: the SHA-256 of every refresh token a connection was ever
  given, so importing a token of a chain already stored finds that connection instead of
  starting a second one that would share (and break) the rotating chain.
- `audit_events_made_by`: who made an employee record or a vehicle link, read for every
  decision by a key bound to an employee (segregation of duties).
- `previous_refresh_enc` is no longer written (a replaced refresh token is never used again);
  the values already stored are cleared.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

from billing.db.migrations import execute_script

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


UPGRADE = """
ALTER TABLE smartcar_connections DROP CONSTRAINT smartcar_connections_state_check;
ALTER TABLE smartcar_connections ADD CONSTRAINT smartcar_connections_state_check
    CHECK (state IN ('active', 'needs_reauth', 'needs_key'));
UPDATE smartcar_connections SET previous_refresh_enc = NULL;

CREATE TABLE smartcar_refresh_fingerprints (
    sha256          bytea PRIMARY KEY CHECK (length(sha256) = 32),
    connection_id   uuid NOT NULL REFERENCES smartcar_connections (id),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX smartcar_refresh_fingerprints_connection
    ON smartcar_refresh_fingerprints (connection_id);

-- who made an employee record or a vehicle link (segregation of duties reads it per decision)
CREATE INDEX audit_events_made_by ON audit_events (actor)
    WHERE (entity = 'employee' AND action = 'create')
       OR (entity = 'vehicle' AND action IN ('create', 'link', 'relink'));
"""

DOWNGRADE = """
DROP INDEX audit_events_made_by;
DROP TABLE smartcar_refresh_fingerprints;
UPDATE smartcar_connections SET state = 'needs_reauth' WHERE state = 'needs_key';
ALTER TABLE smartcar_connections DROP CONSTRAINT smartcar_connections_state_check;
ALTER TABLE smartcar_connections ADD CONSTRAINT smartcar_connections_state_check
    CHECK (state IN ('active', 'needs_reauth'));
"""


def upgrade() -> None:
    execute_script(UPGRADE)


def downgrade() -> None:
    execute_script(DOWNGRADE)
