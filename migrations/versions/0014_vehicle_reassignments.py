"""Connect never moves a car between employees: such a move waits for a manager.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from __future__ import annotations

from billing.db.migrations import execute_script

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
CREATE TABLE vehicle_reassignments (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    fleet_id            uuid NOT NULL REFERENCES fleets (id),
    vehicle_id          uuid NOT NULL REFERENCES vehicles (id),
    from_employee_id    uuid NOT NULL,
    to_employee_id      uuid NOT NULL,
    connection_id       uuid NOT NULL REFERENCES smartcar_connections (id),
    status              text NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'accepted', 'refused')),
    requested_by        text NOT NULL,
    decided_by          text,
    decided_at          timestamptz,
    reason              text CHECK (reason IS NULL OR length(reason) <= 500),
    created_at          timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (from_employee_id, fleet_id) REFERENCES employees (id, fleet_id),
    FOREIGN KEY (to_employee_id, fleet_id) REFERENCES employees (id, fleet_id),
    CHECK (from_employee_id <> to_employee_id),
    CHECK ((status = 'pending') = (decided_at IS NULL AND decided_by IS NULL))
);
CREATE UNIQUE INDEX vehicle_reassignments_one_pending ON vehicle_reassignments (vehicle_id)
    WHERE status = 'pending';
CREATE INDEX vehicle_reassignments_fleet ON vehicle_reassignments (fleet_id, created_at);
"""
    )


def downgrade() -> None:
    execute_script("DROP TABLE vehicle_reassignments;")
