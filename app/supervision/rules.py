"""The violation rules of SPEC §6.1 as pure functions over plain facts (no database).

Each rule takes the facts of one subject and the parameters in force and answers the
facts of its finding, or None. Soft limits only: what they look at was accepted; the
hard limits that refuse input (a start over 2 h early, a reading implying over 150 km/h)
live in dispatch and never overlap these (a rule here fires strictly inside them).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Mapping

from app import clock

Params = Mapping[str, Any]

DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "off_hours": {"night_start": "22:00", "night_end": "06:00"},
    "outside_window": {"early_minutes": 60, "late_minutes": 120},
    "distance_overrun": {"ratio": Decimal("1.3"), "min_extra_km": Decimal("20")},
    "odometer_gap": {"min_km": Decimal("5")},
    "implausible_run": {"max_speed_kmh": Decimal("120"), "max_day_km": Decimal("1000")},
    "emergency_unapproved": {"hours": 24},
    "over_ceiling_bill": {},
    "fare_over_estimate": {"percent": Decimal("20")},
}

# Purposes a night or holiday run needs no platform step for (SPEC §6.1).
OFF_HOURS_EXEMPT = frozenset({"emergency", "enforcement"})


@dataclass(frozen=True)
class RunFacts:
    """A finished fleet run with what its trip planned (SPEC §6.1's inputs)."""

    trip_id: int
    unit_id: int
    vehicle_id: int
    purpose: str
    depart_at: datetime
    return_at: datetime
    started_at: datetime
    finished_at: datetime
    km: Decimal
    odometer_gap_km: Decimal = Decimal(0)
    # The trip's full route estimate as quoted (out and back unless one-way:
    # ``app.quotes.route.full_estimate``), the distance the car was expected to drive.
    est_km: Decimal | None = None
    platform_step: bool = False  # its approval had a platform (second-level) step


def hhmm(text: str) -> time:
    hours, minutes = str(text).split(":")
    return time(int(hours), int(minutes))


def local_days(start: datetime, end: datetime) -> list[date]:
    """The Asia/Shanghai calendar days the interval [start, end) touches (at least one)."""
    first = clock.local(start).date()
    last = clock.local(max(end - timedelta(microseconds=1), start)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def night_overlap(start: datetime, end: datetime, night_start: time, night_end: time) -> bool:
    """Whether [start, end] overlaps a night strictly (ending at 22:00:00 does not)."""
    first = clock.local(start).date() - timedelta(days=1)
    last = clock.local(end).date()
    day = first
    while day <= last:
        begins = datetime.combine(day, night_start, clock.SHANGHAI)
        ends = datetime.combine(day + timedelta(days=1 if night_end <= night_start else 0),
                                night_end, clock.SHANGHAI)
        if start < ends and end > begins:
            return True
        day += timedelta(days=1)
    return False


def off_hours(run: RunFacts, params: Params, calendar) -> dict | None:
    """A run overlapping the night or a non-workday (调休 Saturdays are workdays) without a
    platform approval step, unless for an emergency or enforcement."""
    if run.purpose in OFF_HOURS_EXEMPT or run.platform_step:
        return None
    night_start, night_end = hhmm(params["night_start"]), hhmm(params["night_end"])
    start, end = clock.local(run.started_at), clock.local(run.finished_at)
    if (start.date() == end.date() and night_end <= start.time() and end.time() <= night_start
            and night_end <= night_start and calendar.verdict(start.date()).workday):
        return None  # the common case: a daytime run on one workday
    night = night_overlap(run.started_at, run.finished_at, night_start, night_end)
    rest_days = [d for d in local_days(run.started_at, run.finished_at)
                 if not calendar.verdict(d).workday]
    if not night and not rest_days:
        return None
    return {"night": night, "non_workdays": [d.isoformat() for d in rest_days]}


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def outside_window(run: RunFacts, params: Params) -> dict | None:
    """Started more than ``early_minutes`` before departure, or finished more than
    ``late_minutes`` after the approved return."""
    early = run.depart_at - run.started_at
    late = run.finished_at - run.return_at
    early_hit = early > timedelta(minutes=int(params["early_minutes"]))
    late_hit = late > timedelta(minutes=int(params["late_minutes"]))
    if not (early_hit or late_hit):
        return None
    return {"early_minutes": _minutes(early) if early_hit else 0,
            "late_minutes": _minutes(late) if late_hit else 0}


def distance_overrun(run: RunFacts, params: Params) -> dict | None:
    """Actual km above the full route estimate × ``ratio`` and at least ``min_extra_km`` more
    (exactly 30 % over does not fire; exactly 20 km more does)."""
    estimate = run.est_km
    if estimate is None or estimate <= 0:
        return None
    estimate, km = Decimal(estimate), Decimal(run.km)
    if km > estimate * Decimal(str(params["ratio"])) and \
            km - estimate >= Decimal(str(params["min_extra_km"])):
        return {"km": str(km), "estimate_km": str(estimate), "extra_km": str(km - estimate)}
    return None


def odometer_gap(run: RunFacts, params: Params) -> dict | None:
    """The start reading is at least ``min_km`` above the vehicle's previous finish (账实相符)."""
    gap = Decimal(run.odometer_gap_km)
    if gap >= Decimal(str(params["min_km"])):
        return {"gap_km": str(gap)}
    return None


def implausible_run(run: RunFacts, params: Params) -> dict | None:
    """An average speed over ``max_speed_kmh``, or more than ``max_day_km`` a day."""
    hours = Decimal((run.finished_at - run.started_at).total_seconds()) / 3600
    km = Decimal(run.km)
    max_day_km = Decimal(str(params["max_day_km"]))
    too_fast = hours > 0 and km / hours > Decimal(str(params["max_speed_kmh"]))
    days = len(local_days(run.started_at, run.finished_at)) if km > max_day_km or too_fast else 1
    too_far = km > max_day_km * days
    if not (too_fast or too_far):
        return None
    speed = (km / hours).quantize(Decimal("0.1")) if hours > 0 else None
    return {"km": str(km), "hours": str(hours.quantize(Decimal("0.01"))),
            "speed_kmh": str(speed) if speed is not None else None, "days": days,
            "too_fast": too_fast, "too_far": too_far}


def emergency_unapproved(submitted_at: datetime, approved_at: datetime | None, now: datetime,
                         params: Params) -> dict | None:
    """An emergency trip (先用后补) without final approval ``hours`` after it was submitted."""
    deadline = submitted_at + timedelta(hours=int(params["hours"]))
    if now <= deadline or (approved_at is not None and approved_at <= deadline):
        return None
    return {"submitted_at": clock.local(submitted_at).isoformat(),
            "approved_at": clock.local(approved_at).isoformat() if approved_at else None}


def over_ceiling_bill(total: Decimal, ceiling: Decimal | None, params: Params) -> dict | None:
    """A rental bill above our agreement ceiling (SPEC §5.2)."""
    if ceiling is None or total <= ceiling:
        return None
    return {"total": str(total), "ceiling": str(ceiling), "excess": str(total - ceiling)}


def fare_over_estimate(total: Decimal, estimate: Decimal | None, params: Params) -> dict | None:
    """A ride-hailing fare more than ``percent`` above its locked estimate (SPEC §5.3)."""
    if estimate is None or estimate <= 0:
        return None
    limit = estimate * (1 + Decimal(str(params["percent"])) / 100)
    if total <= limit:
        return None
    return {"total": str(total), "estimate": str(estimate),
            "over_percent": str(((total / estimate - 1) * 100).quantize(Decimal("0.1")))}
