"""Which pooled vehicles and drivers are free for a window (the fleet quote adapter and
dispatch share this), and how much each has been used.

Busy rule: an active assignment occupies ``[starts_at, ends_at + BUFFER)``; a new window
``[start, end + BUFFER)`` must not overlap it — the same rule the PostgreSQL exclusion
constraints enforce.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, func, select

from app import clock
from app.accounts.models import Driver, Role, User, UserRole, Vehicle, VehicleStatus
from app.dispatch.models import BUFFER, Assignment, TripRun


def overlapping(start: datetime, end: datetime):
    """SQL condition: active assignments whose busy range overlaps the window's."""
    return and_(Assignment.active, Assignment.starts_at < end + BUFFER,
                Assignment.busy_until > start)


def _taken(session, column, value: int, start: datetime, end: datetime) -> bool:
    return session.scalar(select(Assignment.id).where(
        column == value, overlapping(start, end)).limit(1)) is not None


def vehicle_busy(session, vehicle_id: int, start: datetime, end: datetime) -> bool:
    return _taken(session, Assignment.vehicle_id, vehicle_id, start, end)


def driver_busy(session, driver_id: int, start: datetime, end: datetime) -> bool:
    return _taken(session, Assignment.driver_id, driver_id, start, end)


def free_vehicles(session, vehicle_class: str | None, seats: int, start: datetime,
                  end: datetime) -> list[Vehicle]:
    """Pooled, available vehicles of the class (any when None) with enough seats, free then."""
    busy = select(Assignment.vehicle_id).where(overlapping(start, end))
    stmt = select(Vehicle).where(Vehicle.pooled, Vehicle.status == VehicleStatus.AVAILABLE,
                                 Vehicle.seats >= seats, Vehicle.id.not_in(busy))
    if vehicle_class is not None:
        stmt = stmt.where(Vehicle.vehicle_class == vehicle_class)
    return list(session.scalars(stmt.order_by(Vehicle.id)).unique())


def free_drivers(session, start: datetime, end: datetime) -> list[Driver]:
    """Active drivers who can act (an active login with the driver role, to start and
    finish the trip) with no overlapping task."""
    busy = select(Assignment.driver_id).where(overlapping(start, end))
    can_act = select(User.id).join(UserRole).where(User.active, UserRole.role == Role.DRIVER)
    stmt = select(Driver).where(Driver.active, Driver.user_id.in_(can_act),
                                Driver.id.not_in(busy))
    return list(session.scalars(stmt.order_by(Driver.id)).unique())


def km_this_year(session, vehicle_ids: list[int], now: datetime | None = None) -> dict[int, Decimal]:
    """Distance driven per vehicle since 1 January (Asia/Shanghai), from finished runs."""
    local = clock.local(now or clock.now())
    year_start = local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    rows = session.execute(
        select(TripRun.vehicle_id, func.coalesce(func.sum(TripRun.km), 0))
        .where(TripRun.vehicle_id.in_(vehicle_ids), TripRun.finished_at >= year_start)
        .group_by(TripRun.vehicle_id))
    used = {vid: Decimal(str(km)) for vid, km in rows}
    return {vid: used.get(vid, Decimal(0)) for vid in vehicle_ids}


def minutes_in_week(session, driver_ids: list[int], day: datetime) -> dict[int, int]:
    """Minutes on duty per driver in the Monday-to-Sunday week (Asia/Shanghai) of ``day``:
    actual times of finished runs, planned windows of tasks still ahead."""
    local = clock.local(day)
    week_start = (local - timedelta(days=local.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0)
    week_end = week_start + timedelta(days=7)
    totals = {did: 0 for did in driver_ids}
    runs = session.execute(
        select(TripRun.driver_id, TripRun.started_at, TripRun.finished_at)
        .where(TripRun.driver_id.in_(driver_ids), TripRun.finished_at.is_not(None),
               TripRun.started_at < week_end, TripRun.finished_at > week_start))
    planned = session.execute(
        select(Assignment.driver_id, Assignment.starts_at, Assignment.ends_at)
        .where(Assignment.driver_id.in_(driver_ids), Assignment.active,
               Assignment.starts_at < week_end, Assignment.ends_at > week_start))
    for driver_id, start, end in [*runs, *planned]:
        overlap = min(end, week_end) - max(start, week_start)
        totals[driver_id] += int(overlap.total_seconds() // 60)
    return totals
