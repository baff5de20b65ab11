"""The due and priority SQL (`claim_for_sync`, `due_count`, `deadlines_at_risk`) is `planner.py`.

Random vehicle states are written to the real `vehicles` table in one transaction per
example (rolled back); the SQL's answers must equal the planner's: the same vehicles
claimed for every limit (so the same order), the same due count, the same count at risk.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.db.pool import Connection, Pool
from billing.db.queries import queries
from billing.domain.models import SyncState
from billing.domain.planner import VehicleView, at_risk, is_due, plan, today_of
from tests.factories import Factory

_q = queries("sync")

T0 = datetime(2026, 3, 1, tzinfo=UTC)
STATES: list[SyncState] = [
    "new",
    "ok",
    "retry_later",
    "throttled",
    "needs_reauth",
    "owner_action",
    "not_capable",
    "failed",
]
# A few instants shared between vehicles, so ties on last_success_at are common.
_INSTANTS = [T0 - timedelta(days=d, hours=h) for d in (0, 3, 29) for h in (0, 7)]

_INSERT = """
INSERT INTO vehicles (id, fleet_id, employee_id, smartcar_vehicle_id, make, sync_state,
                      synced_through, access_granted_on, last_success_at, next_sync_at,
                      not_before, consecutive_failures)
VALUES ($1, $2, $3, $4, 'TESLA', $5, $6, $7, $8, $9, $10, $11)
"""


def _day(offset: st.SearchStrategy[int]) -> st.SearchStrategy[date]:
    return offset.map(lambda d: T0.date() + timedelta(days=d))


def _moment() -> st.SearchStrategy[datetime]:
    return st.integers(min_value=-3 * 86_400, max_value=3 * 86_400).map(
        lambda s: T0 + timedelta(seconds=s)
    )


_view = st.builds(
    VehicleView,
    id=st.uuids(),
    sync_state=st.sampled_from(STATES),
    synced_through=st.none() | _day(st.integers(min_value=-45, max_value=2)),
    access_granted_on=st.none() | _day(st.integers(min_value=-45, max_value=2)),
    last_success_at=st.none() | st.sampled_from(_INSTANTS),
    next_sync_at=st.none() | _moment(),
    not_before=st.none() | _moment(),
    consecutive_failures=st.integers(min_value=0, max_value=5),
)
_fleet = st.lists(_view, max_size=12, unique_by=lambda view: view.id)


async def _insert(
    conn: Connection, fleet_id: UUID, employee_id: UUID, views: list[VehicleView]
) -> None:
    await conn.executemany(
        _INSERT,
        [
            (
                v.id,
                fleet_id,
                employee_id,
                f"sc-{v.id}",
                v.sync_state,
                v.synced_through,
                v.access_granted_on,
                v.last_success_at,
                v.next_sync_at,
                v.not_before,
                v.consecutive_failures,
            )
            for v in views
        ],
    )


async def _claimed(
    conn: Connection, now: datetime, limit: int, only: list[UUID] | None
) -> set[UUID]:
    tx = conn.transaction()
    await tx.start()
    try:
        # A bucket far larger than any limit: only the due and priority rules choose.
        rows = await conn.fetch(
            _q.claim_for_sync, now, "equivalence", limit, only, 60.0, only is not None, 10**6, 0
        )
        return {row["id"] for row in rows}
    finally:
        await tx.rollback()


@settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    views=_fleet,
    now=_moment(),
    limits=st.lists(st.integers(min_value=0, max_value=14), min_size=1, max_size=3),
    risk_days=st.integers(min_value=0, max_value=35),
    subset=st.lists(st.integers(min_value=0, max_value=11), max_size=4),
)
async def test_due_and_priority_sql_is_the_planner(
    pool: Pool,
    factory: Factory,
    views: list[VehicleView],
    now: datetime,
    limits: list[int],
    risk_days: int,
    subset: list[int],
) -> None:
    fleet = await factory.fleet(name="Equivalence")
    employee = await factory.employee(fleet)
    today = today_of(now)
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            await _insert(conn, fleet.id, employee.id, views)
            for limit in limits:
                assert await _claimed(conn, now, limit, None) == set(plan(views, now, limit))
            # A manual sync of chosen vehicles: due whatever next_sync_at says.
            only = sorted({views[i].id for i in subset if i < len(views)})
            if only:
                forced = [replace(v, next_sync_at=None) for v in views if v.id in only]
                assert await _claimed(conn, now, len(views), list(only)) == set(
                    plan(forced, now, len(views))
                )
            due = await conn.fetchval(_q.due_count, now, None, False)
            assert due == sum(is_due(v, now) for v in views)
            risk = await conn.fetchval(_q.deadlines_at_risk, now, risk_days)
            assert risk == sum(at_risk(v, today, risk_days) for v in views)
        finally:
            await tx.rollback()


async def test_a_vehicle_backing_off_is_not_counted_due(pool: Pool, factory: Factory) -> None:
    # due_count used to ignore not_before: a pass's progress total counted vehicles that
    # claim_for_sync would not hand out until their back-off ended.
    fleet = await factory.fleet()
    employee = await factory.employee(fleet)
    backing_off = VehicleView(
        id=UUID(int=1), sync_state="retry_later", not_before=T0 + timedelta(minutes=5)
    )
    due = VehicleView(id=UUID(int=2), sync_state="ok")
    async with pool.acquire() as conn:
        await _insert(conn, fleet.id, employee.id, [backing_off, due])
        assert await conn.fetchval(_q.due_count, T0, None, False) == 1
        assert await _claimed(conn, T0, 10, None) == {due.id}
