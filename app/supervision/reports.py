"""The supervision reports of SPEC §6.2: utilisation, NEV share, savings, spend, and the
quarterly positive/negative list (正负面清单). Each answers rows plus totals computed from
the same rows; the views add ``format=xlsx``. Sums are taken in the database where the
grouping is plain, months are local (Asia/Shanghai) and grouped here."""
from __future__ import annotations

import calendar as pycalendar
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from app import audit, clock
from app.accounts.models import Role, Unit, User, Vehicle, VehicleStatus
from app.billing.models import Charge
from app.dispatch.models import TripRun
from app.errors import Conflict, NotFound
from app.security import in_scope
from app.supervision.models import Outcome, PublishedList, Violation, ViolationState
from app.trips.models import Trip, TripState

# 集约化: a vehicle driving less than this a year (pro rata) is a recall candidate.
UTILISATION_KM_PER_YEAR = Decimal(5000)
POSITIVE_MIN_TRIPS = 20
NEGATIVE_MIN_UPHELD = 3
KM = Decimal("0.1")
ZERO = Decimal(0)
# Trips that happened (for the quarterly list's trip count).
DONE = (TripState.COMPLETED, TripState.CONFIRMED, TripState.SETTLED)


@dataclass(frozen=True)
class Window:
    """A span of local calendar days [first, last] and its UTC bounds [start, end)."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), clock.SHANGHAI)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), clock.SHANGHAI)

    @classmethod
    def month(cls, period: str) -> "Window":
        year, month = (int(x) for x in period.split("-"))
        return cls(date(year, month, 1), date(year, month, pycalendar.monthrange(year, month)[1]))

    @classmethod
    def year(cls, year: int) -> "Window":
        return cls(date(year, 1, 1), date(year, 12, 31))

    @classmethod
    def months(cls, first: str, last: str) -> "Window":
        return cls(cls.month(first).first, cls.month(last).last)

    @classmethod
    def quarter(cls, quarter: str) -> "Window":
        year, q = int(quarter[:4]), int(quarter[5])
        return cls(date(year, 3 * q - 2, 1), cls.month(f"{year}-{3 * q:02d}").last)


def _units(session) -> dict[int, Unit]:
    return {u.id: u for u in session.scalars(select(Unit))}


def _visible_units(session, user: User, unit_id: int | None) -> dict[int, Unit]:
    """The units the report covers: the caller's scope (supervisors: all), narrowed to
    ``unit_id``'s subtree when given (404 outside the scope)."""
    units = _units(session)
    platform = user.has_role(Role.SUPERVISOR)
    mine = {i: u for i, u in units.items() if platform or in_scope(user, u)}
    if unit_id is None:
        return mine
    root = mine.get(unit_id)
    if root is None:
        raise NotFound("单位不存在")
    return {i: u for i, u in mine.items() if root.contains(u)}


def _share(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001")) if whole else None


# --- utilisation (集约化) ----------------------------------------------------------------

def utilisation(session, *, user: User, year: int, unit_id: int | None = None,
                today: date | None = None) -> dict:
    """Km per vehicle in a calendar year from driver runs; the 5,000 km line pro rata by the
    days the vehicle was in service that year (to today in the current year)."""
    units = _visible_units(session, user, unit_id)
    window = Window.year(year)
    today = today or clock.local_date(clock.now())
    km_by_vehicle = dict(session.execute(
        select(TripRun.vehicle_id, func.sum(TripRun.km))
        .where(TripRun.finished_at >= window.start, TripRun.finished_at < window.end)
        .group_by(TripRun.vehicle_id)).all())
    year_days = (window.last - window.first).days + 1
    rows = []
    for v in session.scalars(select(Vehicle).where(Vehicle.unit_id.in_(units)).order_by(Vehicle.id)):
        first = max(window.first, clock.local_date(v.created_at))
        last = min(window.last, today)
        days = max((last - first).days + 1, 0)
        if days == 0:
            continue
        km = Decimal(km_by_vehicle.get(v.id) or 0).quantize(KM)
        line = (UTILISATION_KM_PER_YEAR * days / year_days).quantize(KM)
        below = km < line
        rows.append({"vehicle_id": v.id, "plate": v.plate, "vehicle_class": str(v.vehicle_class),
                     "energy_type": str(v.energy_type), "nev": v.nev,
                     "placement": "pooled" if v.pooled else "stationed", "unit_id": v.unit_id,
                     "unit_name": units[v.unit_id].name, "status": str(v.status), "km": km,
                     "days_in_service": days, "threshold_km": line, "below_threshold": below,
                     "recall_candidate": below and not v.pooled
                     and v.status != VehicleStatus.RETIRED})
    return {"year": year, "threshold_km_per_year": UTILISATION_KM_PER_YEAR, "items": rows,
            "totals": {"vehicles": len(rows), "km": sum((r["km"] for r in rows), ZERO),
                       "below_threshold": sum(r["below_threshold"] for r in rows),
                       "recall_candidates": sum(r["recall_candidate"] for r in rows)}}


def recall(session, *, actor: User, vehicle_id: int, reason: str) -> Vehicle:
    """Move a stationed vehicle (派驻) back to the pool (集中), audited (SPEC §6.2)."""
    vehicle = session.get(Vehicle, vehicle_id)
    if vehicle is None or not in_scope(actor, vehicle.unit):
        raise NotFound("车辆不存在")
    if vehicle.pooled:
        raise Conflict("该车辆已在集中管理车辆池中", code="already_pooled")
    pool = session.scalar(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id).limit(1))
    before = vehicle.unit_id
    vehicle.pooled, vehicle.unit_id = True, pool.id
    session.flush()
    audit.record(session, entity="vehicles", entity_id=vehicle.id, action="recalled",
                 actor_id=actor.id, data={"from_unit_id": before, "to_unit_id": pool.id,
                                          "reason": reason})
    return vehicle


# --- NEV share (绿色化) ------------------------------------------------------------------

def nev_share(session, *, user: User, window: Window, unit_id: int | None = None) -> dict:
    """Per unit and per region: NEV vehicles ÷ vehicles (by home unit) and NEV km ÷ km
    (driver runs finished in the window, by the trip's unit)."""
    units = _visible_units(session, user, unit_id)
    acc: dict[int, dict] = {i: {"vehicles": 0, "nev_vehicles": 0, "km": ZERO, "nev_km": ZERO}
                            for i in units}
    for v in session.scalars(select(Vehicle).where(Vehicle.unit_id.in_(units),
                                                   Vehicle.status != VehicleStatus.RETIRED)):
        acc[v.unit_id]["vehicles"] += 1
        acc[v.unit_id]["nev_vehicles"] += v.nev
    nev_ids = {v.id for v in session.scalars(select(Vehicle)) if v.nev}
    for trip_unit, vehicle_id, km in session.execute(
            select(Trip.unit_id, TripRun.vehicle_id, func.sum(TripRun.km))
            .join(Trip, Trip.id == TripRun.trip_id)
            .where(TripRun.finished_at >= window.start, TripRun.finished_at < window.end,
                   Trip.unit_id.in_(units))
            .group_by(Trip.unit_id, TripRun.vehicle_id)):
        km = Decimal(km or 0).quantize(KM)
        acc[trip_unit]["km"] += km
        if vehicle_id in nev_ids:
            acc[trip_unit]["nev_km"] += km

    def row(counts: dict, **head) -> dict:
        return {**head, **counts,
                "vehicle_share": _share(counts["nev_vehicles"], counts["vehicles"]),
                "km_share": _share(counts["nev_km"], counts["km"])}

    items = [row(c, unit_id=i, unit_name=units[i].name, region_code=units[i].region_code)
             for i, c in sorted(acc.items()) if c["vehicles"] or c["km"]]
    regions: dict[str, dict] = defaultdict(
        lambda: {"vehicles": 0, "nev_vehicles": 0, "km": ZERO, "nev_km": ZERO})
    for item in items:
        for key in ("vehicles", "nev_vehicles", "km", "nev_km"):
            regions[item["region_code"]][key] += item[key]
    totals = {key: sum((i[key] for i in items), ZERO if "km" in key else 0)
              for key in ("vehicles", "nev_vehicles", "km", "nev_km")}
    return {"from": window.first, "to": window.last, "items": items,
            "regions": [row(c, region_code=code) for code, c in sorted(regions.items())],
            "totals": row(totals)}


# --- savings and spend -------------------------------------------------------------------

def _local_month(session, column):
    """SQL: the Asia/Shanghai month (YYYY-MM) of a UTC time column, so that sums group in
    the database (a year holds a hundred thousand charges)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("Asia/Shanghai", column), "YYYY-MM")
    return func.strftime("%Y-%m", column, "+8 hours")  # SQLite keeps UTC text; no DST here


def savings_figures(reference: Decimal, charged: Decimal) -> dict:
    """SPEC §5.4's measure of a row or total: the market reference, the charge, the savings
    (reference − charge) and the savings rate (savings ÷ reference)."""
    return {"market_reference": reference, "charged": charged, "savings": reference - charged,
            "savings_rate": _share(reference - charged, reference)}


def summed_savings(items: list[dict]) -> dict:
    """``savings_figures`` of the items' summed reference and charge."""
    return savings_figures(sum((i["market_reference"] for i in items), ZERO),
                           sum((i["charged"] for i in items), ZERO))


def savings(session, *, user: User, window: Window, unit_id: int | None = None) -> dict:
    """Per unit and month: Σ market reference − Σ charge of final fleet charges (SPEC §5.4)."""
    units = _visible_units(session, user, unit_id)
    month = _local_month(session, Charge.finished_at)
    rows = session.execute(
        select(Charge.unit_id, month, func.count(), func.sum(Charge.market_reference),
               func.sum(Charge.total))
        .where(Charge.final, Charge.channel == "fleet", Charge.market_reference.is_not(None),
               Charge.finished_at >= window.start, Charge.finished_at < window.end,
               Charge.unit_id.in_(units))
        .group_by(Charge.unit_id, month).order_by(Charge.unit_id, month))
    items = [{"unit_id": unit, "unit_name": units[unit].name, "month": m, "trips": n,
              **savings_figures(ref, charged)}
             for unit, m, n, ref, charged in rows]
    return {"from": window.first, "to": window.last, "items": items,
            "totals": {"trips": sum(i["trips"] for i in items), **summed_savings(items)}}


def spend(session, *, user: User, window: Window, unit_id: int | None = None) -> dict:
    """Per unit × channel × supplier × month: the final charges' count and amount."""
    units = _visible_units(session, user, unit_id)
    month = _local_month(session, Charge.finished_at)
    rows = session.execute(
        select(Charge.unit_id, Charge.channel, Charge.supplier, month, func.count(),
               func.sum(Charge.total))
        .where(Charge.final, Charge.finished_at >= window.start,
               Charge.finished_at < window.end, Charge.unit_id.in_(units))
        .group_by(Charge.unit_id, Charge.channel, Charge.supplier, month)
        .order_by(Charge.unit_id, Charge.channel, Charge.supplier, month))
    items = [{"unit_id": unit, "unit_name": units[unit].name, "channel": str(channel),
              "supplier": supplier, "month": m, "trips": n, "amount": amount}
             for unit, channel, supplier, m, n, amount in rows]
    return {"from": window.first, "to": window.last, "items": items,
            "totals": {"trips": sum(i["trips"] for i in items),
                       "amount": sum((i["amount"] for i in items), ZERO)}}


# --- the quarterly positive/negative list (正负面清单) ------------------------------------

def quarterly_list(session, *, user: User, quarter: str) -> dict:
    """Units with ≥ 20 trips and no upheld violation in the quarter are positive; units
    with ≥ 3 upheld violations negative. Once published, the published list is answered."""
    published = session.scalar(select(PublishedList).where(PublishedList.quarter == quarter))
    if published is not None:
        data = dict(published.data)
    else:
        data = _compute_list(session, quarter)
    units = _visible_units(session, user, None)
    return {"quarter": quarter, "published": published is not None,
            "published_at": published.published_at if published else None,
            "positive": [u for u in data["positive"] if u["unit_id"] in units],
            "negative": [u for u in data["negative"] if u["unit_id"] in units]}


def _compute_list(session, quarter: str) -> dict:
    window = Window.quarter(quarter)
    units = _units(session)
    trips = dict(session.execute(
        select(Trip.unit_id, func.count()).where(Trip.state.in_(DONE),
                                                 Trip.depart_at >= window.start,
                                                 Trip.depart_at < window.end)
        .group_by(Trip.unit_id)).all())
    upheld = dict(session.execute(
        select(Violation.unit_id, func.count()).where(
            Violation.state == ViolationState.CLOSED, Violation.outcome == Outcome.UPHELD,
            Violation.occurred_at >= window.start, Violation.occurred_at < window.end)
        .group_by(Violation.unit_id)).all())

    def entry(unit_id: int) -> dict:
        return {"unit_id": unit_id, "unit_name": units[unit_id].name,
                "trips": trips.get(unit_id, 0), "upheld_violations": upheld.get(unit_id, 0)}

    return {"positive": [entry(u) for u in sorted(trips)
                         if trips[u] >= POSITIVE_MIN_TRIPS and not upheld.get(u)],
            "negative": [entry(u) for u in sorted(upheld) if upheld[u] >= NEGATIVE_MIN_UPHELD]}


def publish_list(session, *, actor: User, quarter: str) -> dict:
    """A supervisor publishes the quarter's list; it is kept as published (once)."""
    if Window.quarter(quarter).end > clock.now():
        raise Conflict("季度尚未结束，不能发布清单", code="quarter_not_over")
    if session.scalar(select(PublishedList.id).where(PublishedList.quarter == quarter)):
        raise Conflict("该季度清单已发布", code="already_published")
    row = PublishedList(quarter=quarter, data=_compute_list(session, quarter),
                        published_by_id=actor.id, published_at=clock.now())
    session.add(row)
    session.flush()
    audit.record(session, entity="published_lists", entity_id=row.id, action="published",
                 actor_id=actor.id, data={"quarter": quarter,
                                          "positive": len(row.data["positive"]),
                                          "negative": len(row.data["negative"])})
    return quarterly_list(session, user=actor, quarter=quarter)
