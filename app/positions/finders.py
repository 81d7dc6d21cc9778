"""The position rules' finders: load the fixes of recent runs and vehicles (only the columns
the rules need) and ask the pure rules of ``rules.py``.

Each finder is a ``find(session, *, params, scope, now)`` of the violation rule registry
(``app.violations``): one ``Finding`` per rule and subject (``"trip:<id>"``,
``"vehicle:<id>:<local date>"``), so running it again finds the same subjects and
supervision records each once. ``RULES`` are registered by ``app.positions.init_app``.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import false, literal, or_, select

from app import clock
from app.accounts.models import Vehicle
from app.dispatch.models import Assignment, TripRun
from app.positions import rules
from app.positions.models import Position
from app.trips.models import EARLIEST_START, Trip
from app.violations import Finding, RuleSpec, Scope

# Runs and days the periodic detection (and a sweep) looks back over.
LOOKBACK = timedelta(days=2)
# Late fixes (a gateway's retries, a phone back online) have this long after a run ends.
GRACE = timedelta(minutes=10)


def fixes(session, vehicle_id: int, start: datetime, end: datetime) -> list[rules.Fix]:
    rows = session.execute(select(Position.at, Position.lat, Position.lng).where(
        Position.vehicle_id == vehicle_id, Position.at >= start, Position.at <= end,
        Position.valid).order_by(Position.at))
    return [rules.Fix(*row) for row in rows]


def _scoped(stmt, scope: Scope, vehicle_col, trip_col=None):
    if scope.vehicle_ids is not None:
        stmt = stmt.where(vehicle_col.in_(scope.vehicle_ids))
    if scope.trip_ids is not None:
        stmt = stmt.where(trip_col.in_(scope.trip_ids) if trip_col is not None else false())
    return stmt


# Trips carry ``one_way`` once the estimates work lands; until then every trip returns.
_ONE_WAY = getattr(Trip, "one_way", None)


def _runs(session, scope: Scope, *where):
    one_way = _ONE_WAY if _ONE_WAY is not None else literal(False)
    stmt = (select(TripRun, Trip.unit_id, Trip.stops, one_way)
            .join(Trip, Trip.id == TripRun.trip_id).where(*where))
    return session.execute(_scoped(stmt, scope, TripRun.vehicle_id, TripRun.trip_id)).all()


def route_deviation(session, *, params, scope: Scope, now: datetime) -> list[Finding]:
    """Runs on the road or back within ``LOOKBACK`` whose track left the trip's corridor."""
    found = []
    for run, unit_id, stops, one_way in _runs(
            session, scope, TripRun.started_at >= now - LOOKBACK):
        end = min(run.finished_at or now, now)
        facts = rules.route_deviation(fixes(session, run.vehicle_id, run.started_at, end),
                                      rules.corridor_path(stops, one_way=bool(one_way)), params)
        if facts:
            found.append(Finding("route_deviation", f"trip:{run.trip_id}", unit_id,
                                 datetime.fromisoformat(facts["started_at"]), facts,
                                 trip_id=run.trip_id, vehicle_id=run.vehicle_id))
    return found


def odometer_gps_mismatch(session, *, params, scope: Scope, now: datetime) -> list[Finding]:
    """Runs back within ``LOOKBACK`` (and ``GRACE`` ago) whose odometer and GPS disagree."""
    found = []
    for run, unit_id, _stops, _one_way in _runs(
            session, scope, TripRun.finished_at.is_not(None),
            TripRun.finished_at >= now - LOOKBACK, TripRun.finished_at <= now - GRACE):
        track = fixes(session, run.vehicle_id, run.started_at, run.finished_at)
        facts = rules.odometer_gps_mismatch(run.km, track, run.started_at, run.finished_at,
                                            params)
        if facts:
            found.append(Finding("odometer_gps_mismatch", f"trip:{run.trip_id}", unit_id,
                                 run.finished_at, facts, trip_id=run.trip_id,
                                 vehicle_id=run.vehicle_id))
    return found


def _local_days(now: datetime) -> list[tuple[date, datetime, datetime]]:
    """Yesterday and today (Asia/Shanghai) as UTC windows, today's ending now."""
    today = clock.local_date(now)
    days = []
    for day in (today - timedelta(days=1), today):
        start = datetime.combine(day, time(0), clock.SHANGHAI)
        days.append((day, start, min(start + timedelta(days=1), now)))
    return days


def _vehicles(session, scope: Scope, *where) -> list[Vehicle]:
    if scope.trip_ids is not None and scope.vehicle_ids is None:
        return []  # a trip's check concerns its runs, not the vehicles' days
    return list(session.scalars(_scoped(select(Vehicle).where(*where), scope, Vehicle.id)))


def _busy_windows(session, vehicle_id: int, start: datetime, end: datetime):
    """When the vehicle was allowed to move: its runs, and its active assignments from the
    earliest start a driver may set off."""
    runs = session.execute(select(TripRun.started_at, TripRun.finished_at).where(
        TripRun.vehicle_id == vehicle_id, TripRun.started_at <= end,
        or_(TripRun.finished_at.is_(None), TripRun.finished_at >= start))).all()
    assigned = session.execute(select(Assignment.starts_at, Assignment.busy_until).where(
        Assignment.vehicle_id == vehicle_id, Assignment.active,
        Assignment.starts_at <= end + EARLIEST_START, Assignment.busy_until >= start)).all()
    return ([(s, f or end) for s, f in runs]
            + [(s - EARLIEST_START, until) for s, until in assigned])


def unassigned_movement(session, *, params, scope: Scope, now: datetime) -> list[Finding]:
    """Pooled vehicles that moved, on a local day, with no assignment or run of theirs."""
    found = []
    for vehicle in _vehicles(session, scope, Vehicle.pooled):
        for day, start, end in _local_days(now):
            facts = rules.unassigned_movement(fixes(session, vehicle.id, start, end),
                                              _busy_windows(session, vehicle.id, start, end),
                                              params)
            if facts:
                found.append(Finding("unassigned_movement", f"vehicle:{vehicle.id}:{day}",
                                     vehicle.unit_id, datetime.fromisoformat(facts["from"]),
                                     facts, vehicle_id=vehicle.id))
    return found


def _hhmm(text: str) -> time:
    hours, minutes = str(text).split(":")
    return time(int(hours), int(minutes))


def parked_off_site(session, *, params, scope: Scope, now: datetime) -> list[Finding]:
    """Vehicles with a depot that spent last night's window (and the one before) away from
    it, unless a trip of theirs overlapped the window."""
    found = []
    night_start, night_end = _hhmm(params["night_start"]), _hhmm(params["night_end"])
    today = clock.local_date(now)
    nights = []
    for day in (today - timedelta(days=1), today):
        start = datetime.combine(day, night_start, clock.SHANGHAI)
        end = datetime.combine(day, night_end, clock.SHANGHAI)
        if end <= now:
            nights.append((day, start, end))
    for vehicle in _vehicles(session, scope, Vehicle.depot_lat.is_not(None),
                             Vehicle.depot_lng.is_not(None)):
        for day, start, end in nights:
            if _busy_windows(session, vehicle.id, start, end):
                continue  # an overnight trip
            facts = rules.parked_off_site(fixes(session, vehicle.id, start, end),
                                          (vehicle.depot_lat, vehicle.depot_lng), params)
            if facts:
                found.append(Finding("parked_off_site", f"vehicle:{vehicle.id}:{day}",
                                     vehicle.unit_id, start, facts, vehicle_id=vehicle.id))
    return found


def rule_specs() -> list[RuleSpec]:
    """The position rules as the registry takes them (defaults: SPEC §6.1)."""
    specs = [
        ("route_deviation", "偏离路线", "medium", route_deviation,
         "The run's track leaves the corridor around the trip's stops (or planned route)"),
        ("unassigned_movement", "无派车移动", "high", unassigned_movement,
         "A pooled vehicle moves with no assignment or run of its own"),
        ("parked_off_site", "夜间未回场", "medium", parked_off_site,
         "A vehicle spends the night away from its home depot with no overnight trip"),
        ("odometer_gps_mismatch", "里程与定位不符", "medium", odometer_gps_mismatch,
         "A run's odometer distance disagrees with its GPS distance"),
    ]
    return [RuleSpec(code=code, label=label, severity=severity,
                     params=rules.DEFAULT_PARAMS[code], find=find, description=description)
            for code, label, severity, find, description in specs]
