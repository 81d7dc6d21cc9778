"""Trip use cases: create a draft, cancel, and who may see which trip."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import false, func, or_, select, union, union_all

from app import audit, clock
from app.accounts.models import Role, Unit, User
from app.api import cursor_id, page_of
from app.errors import Forbidden, IllegalTransition, NotFound, ValidationFailed
from app.security import in_scope, scope_filter
from app.trips import events
from app.trips.geo import CityBounds, is_cross_region
from app.trips.models import Trip, TripEvent, TripState

# Roles that see every trip of their unit subtree, not only their own.
OVERSEEING_ROLES = (Role.APPROVER, Role.PLATFORM_APPROVER, Role.DISPATCHER, Role.FINANCE,
                    Role.SUPERVISOR, Role.ADMIN)


def city_bounds() -> CityBounds:
    cfg = current_app.config
    return CityBounds.parse(cfg["CITY_REGION_CODE"], cfg["CITY_BOUNDS"])


def create_trip(session, *, actor: User, data: dict, bounds: CityBounds) -> Trip:
    """Create a draft trip for the actor's unit; ``cross_region`` is derived from the stops."""
    if data["depart_at"] <= clock.now():
        raise ValidationFailed("出发时间须晚于当前时间", errors={"depart_at": ["须为将来时间"]})
    trip = Trip(unit_id=actor.unit_id, applicant_id=actor.id, state=TripState.DRAFT,
                purpose_category=data["purpose"]["category"],
                purpose_text=data["purpose"].get("text", ""),
                passengers=data["passengers"], stops=data["stops"],
                depart_at=data["depart_at"], return_at=data["return_at"],
                vehicle_class=data.get("vehicle_class"), one_way=data.get("one_way", False),
                cross_region=is_cross_region(bounds, data["stops"]))
    session.add(trip)
    session.flush()
    audit.record(session, entity="trips", entity_id=trip.id, action="created",
                 actor_id=actor.id, data={"cross_region": trip.cross_region,
                                          "one_way": trip.one_way})
    return trip


def visible_filter(user: User):
    """SQL condition for the trips ``user`` may see."""
    if user.has_role(*OVERSEEING_ROLES):
        return or_(Trip.applicant_id == user.id, scope_filter(user, Trip.unit_id))
    return Trip.applicant_id == user.id


# --- the trip list: keyset pages over indexed scans ------------------------------------------
# ``visible_filter`` as one WHERE defeats every index (an OR of the applicant and the unit
# subtree), so a page is read as a UNION of index scans instead, each over ``(…, id)`` in id
# order and cut at the page size: the caller's own trips (``ix_trips_applicant_id_id``) and,
# for overseeing roles, each unit of their subtree (``ix_trips_unit_id_id``). Staff whose
# subtree holds every unit (the city root) need no scope condition: the primary key's order.

# Above this many units in a subtree one ``unit_id IN (…)`` scan replaces a branch per unit
# (SQLite allows 500 terms in a compound SELECT).
MAX_UNIT_BRANCHES = 64
PLATE_FILTERS = "otb.trip_plate_filters"


def provide_plate_filter(app, fn) -> None:
    """Register ``fn(plate) -> SELECT of trip ids`` driven by a vehicle with that plate
    (the fleet's assignments, the providers' orders); the trip list filters on their union."""
    filters = app.extensions.setdefault(PLATE_FILTERS, [])
    if fn not in filters:
        filters.append(fn)


def list_conditions(args: dict, user: User) -> list:
    """The console's filters of ``GET /trips`` as SQL conditions."""
    conditions = []
    if args.get("mine"):
        conditions.append(Trip.applicant_id == user.id)
    if args.get("state"):
        conditions.append(Trip.state == args["state"])
    if args.get("channel"):
        conditions.append(Trip.channel == args["channel"])
    if args.get("unit_id") is not None:
        conditions.append(Trip.unit_id == args["unit_id"])
    if args.get("depart_from") is not None:
        conditions.append(Trip.depart_at >= args["depart_from"])
    if args.get("depart_to") is not None:
        conditions.append(Trip.depart_at < args["depart_to"])
    if args.get("plate"):
        selects = [fn(args["plate"]) for fn in current_app.extensions.get(PLATE_FILTERS, [])]
        conditions.append(Trip.id.in_(union_all(*selects)) if selects else false())
    return conditions


def _scope_branches(session, user: User) -> list | None:
    """The conditions whose union is what ``user`` may see; ``None`` for everything."""
    own = Trip.applicant_id == user.id
    if not user.has_role(*OVERSEEING_ROLES):
        return [own]
    # The subtree's units, and how many units there are: a subtree holding every unit
    # (the city root's, unless an admin made a second root) needs no condition at all.
    found = session.execute(select(Unit.id, select(func.count(Unit.id)).scalar_subquery())
                            .where(Unit.path.startswith(user.unit.path))
                            .order_by(Unit.id)).all()
    units = [unit_id for unit_id, _ in found]
    if found and len(units) == found[0][1]:
        return None
    if len(units) > MAX_UNIT_BRANCHES:
        return [own, Trip.unit_id.in_(units)]
    return [own, *(Trip.unit_id == unit_id for unit_id in units)]


def visible_page(session, user: User, conditions: list, *, limit: int, cursor: str | None,
                 options=()) -> dict:
    """A page of the trips ``user`` may see that meet ``conditions``, newest first."""
    last_id = cursor_id(cursor)
    keyset = [Trip.id < last_id] if last_id is not None else []
    branches = _scope_branches(session, user)
    stmt = select(Trip).options(*options).order_by(Trip.id.desc()).limit(limit + 1)
    if branches is None:
        stmt = stmt.where(*conditions, *keyset)
    else:
        scans = [select(Trip.id).where(branch, *conditions, *keyset)
                 .order_by(Trip.id.desc()).limit(limit + 1).subquery(f"scan{n}")
                 for n, branch in enumerate(branches)]
        ids = union(*(select(scan.c.id) for scan in scans)).subquery("visible")
        stmt = stmt.join(ids, ids.c.id == Trip.id)  # UNION: a trip in two branches once
    rows = list(session.scalars(stmt).unique())
    return page_of(rows, limit)


def can_view(user: User, trip: Trip) -> bool:
    return trip.applicant_id == user.id or (
        user.has_role(*OVERSEEING_ROLES) and in_scope(user, trip.unit))


def get_visible(session, user: User, trip_id: int) -> Trip:
    """The trip, or 404 when it does not exist or the user may not see it."""
    trip = session.get(Trip, trip_id)
    if trip is None or not can_view(user, trip):
        raise NotFound("行程不存在")
    return trip


def get_own(session, user: User, trip_id: int) -> Trip:
    """A trip the user applied for (travellers act only on their own trips)."""
    trip = get_visible(session, user, trip_id)
    if trip.applicant_id != user.id:
        raise NotFound("行程不存在")
    return trip


def cancel(session, *, actor: User, trip_id: int, reason: str) -> Trip:
    """Cancel by the traveler (own trip) or a dispatcher, in any state that allows it.

    ``trip_cancelled`` tells the other domains (dispatch frees the vehicle and driver,
    approvals close open tasks, orders cancel the provider order); a fee the provider
    charges is recorded on the trip and published as ``cancellation_fee``."""
    trip = get_visible(session, actor, trip_id)
    if not (trip.is_applicant(actor) or actor.has_role(Role.DISPATCHER)):
        raise Forbidden("只有申请人或调度员可以取消行程", code="not_cancellable_by_you")
    if not trip.cancellable:
        raise IllegalTransition("行程已出发或已结束，不能取消", code="not_cancellable",
                                errors={"state": trip.state.value})
    event = trip.transition(session, TripState.CANCELLED, actor_id=actor.id, comment=reason)
    answers = events.publish(session, events.TRIP_CANCELLED, trip=trip, actor=actor,
                             reason=reason, at=event.at)
    fee = next((answer for answer in answers if answer is not None), None)
    if fee is not None:
        trip.cancellation_fee = fee.amount
        event.data = {**event.data, "cancellation_fee": str(fee.amount), "provider": fee.provider}
        events.publish(session, events.CANCELLATION_FEE, trip=trip, fee=fee, at=event.at)
    return trip


# --- a page's histories without ORM objects ----------------------------------------------------

class HistoryRow:
    """One line of a trip's history as a list shows it: the ``TripEvent`` columns, read
    without building an ORM object (a page of 20 trips carries about 160 of them)."""

    __slots__ = ("id", "trip_id", "from_state", "to_state", "at", "actor_id", "on_behalf_of_id",
                 "comment", "data")

    def __init__(self, row):
        for name, value in zip(self.__slots__, row):
            setattr(self, name, value)


_HISTORY_COLUMNS = [getattr(TripEvent, name) for name in HistoryRow.__slots__]


def attach_histories(session, trips) -> None:
    """Read the histories of a page of trips in one statement; ``TripSchema`` shows them
    (``trip.events`` stays unloaded: nothing on a list page changes a trip)."""
    trips = list(trips)
    if not trips:
        return
    by_trip: dict[int, list[HistoryRow]] = {trip.id: [] for trip in trips}
    rows = session.execute(select(*_HISTORY_COLUMNS).where(TripEvent.trip_id.in_(list(by_trip)))
                           .order_by(TripEvent.id))
    for row in rows:
        by_trip[row[1]].append(HistoryRow(row))
    for trip in trips:
        trip.__dict__["_history_rows"] = by_trip[trip.id]
