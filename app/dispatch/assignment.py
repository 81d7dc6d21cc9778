"""Assignment of the pooled fleet: the dispatch queue; assign, reassign and unassign a
vehicle and driver; release on cancellation; what ``allowed_actions`` needs to know of a
trip's dispatch (its driver, an open dispute).

Every function runs inside the request's unit of work (the view never commits). On SQLite
the request already holds the single writer (``db.begin_write``), so the busy checks below
cannot interleave. On PostgreSQL the exclusion constraints are the guarantee; writers of
assignments also queue on one advisory lock, because two inserts that each conflict with
the other on the vehicle and the driver constraint would otherwise deadlock, and because the
check then gives the clearer answer. A violation still becomes the same 409 as the check.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select, text
from sqlalchemy.exc import IntegrityError

from app import audit
from app.accounts.models import Driver, User, Vehicle, VehicleStatus
from app.dispatch import availability, policy
from app.dispatch.models import Assignment, ReleaseReason, TripDispute
from app.errors import Conflict, IllegalTransition, ValidationFailed
from app.security import in_scope
from app.trips import events
from app.trips.models import Channel, Trip, TripState
from app.trips.service import get_visible

S = TripState
# pg_advisory_xact_lock key of the assignment writers ("disp").
ASSIGNMENT_LOCK_KEY = 0x64697370


class VehicleBusy(Conflict):
    code, message = "vehicle_busy", "该车辆在所选时段已有任务（前后须间隔30分钟），请选择其他车辆"


class DriverBusy(Conflict):
    code, message = "driver_busy", "该驾驶员在所选时段已有任务（前后须间隔30分钟），请选择其他驾驶员"


# --- what waits for dispatch ---------------------------------------------------------------

def queue_condition():
    """SQL: fleet trips waiting for a vehicle, and provider trips whose booking failed."""
    return and_(Trip.dispatchable,
                or_(Trip.channel == Channel.FLEET, Trip.dispatch_issue.is_not(None)))


def trips_with_plate(plate: str):
    """SELECT of the ids of trips a fleet vehicle with ``plate`` was assigned to (the trip
    list's plate filter)."""
    return (select(Assignment.trip_id).join(Vehicle, Vehicle.id == Assignment.vehicle_id)
            .where(Vehicle.plate == plate))


def active_assignment(session, trip_id: int) -> Assignment | None:
    return session.scalar(select(Assignment).where(Assignment.trip_id == trip_id,
                                                   Assignment.active))


# --- choosing a vehicle and a driver -------------------------------------------------------

def _explicit_vehicle(session, actor: User, trip: Trip, vehicle_id: int) -> Vehicle:
    vehicle = session.get(Vehicle, vehicle_id)
    if vehicle is None or not vehicle.pooled or not in_scope(actor, vehicle.unit):
        raise ValidationFailed("所选车辆不存在", errors={"vehicle_id": ["车辆不存在"]})
    if vehicle.status != VehicleStatus.AVAILABLE:
        raise Conflict("所选车辆正在维修或已停用", code="vehicle_unavailable",
                       errors={"vehicle_id": [str(vehicle.status)]})
    if not policy.fits(vehicle.vehicle_class, vehicle.seats, wanted_class=trip.vehicle_class,
                       passengers=trip.passenger_count):
        raise ValidationFailed("所选车辆的车型或座位数不符合行程要求", code="vehicle_unfit",
                               errors={"vehicle_id": ["车型或座位数不符"]})
    if availability.vehicle_busy(session, vehicle.id, trip.depart_at, trip.return_at):
        raise VehicleBusy(errors={"vehicle_id": ["时段冲突"]})
    return vehicle


def _explicit_driver(session, actor: User, trip: Trip, driver_id: int) -> Driver:
    driver = session.get(Driver, driver_id)
    if driver is None or not in_scope(actor, driver.unit):
        raise ValidationFailed("所选驾驶员不存在", errors={"driver_id": ["驾驶员不存在"]})
    if not driver.active:
        raise Conflict("所选驾驶员已停用", code="driver_inactive", errors={"driver_id": ["已停用"]})
    if availability.driver_busy(session, driver.id, trip.depart_at, trip.return_at):
        raise DriverBusy(errors={"driver_id": ["时段冲突"]})
    return driver


def ranked_vehicles(session, trip: Trip) -> list[Vehicle]:
    """Free fitting vehicles for the trip, best first (see ``policy.rank_vehicles``)."""
    free = {v.id: v for v in availability.free_vehicles(
        session, trip.vehicle_class, trip.passenger_count, trip.depart_at, trip.return_at)}
    km = availability.km_this_year(session, list(free))
    ranked = policy.rank_vehicles(
        [policy.VehicleCandidate(v.id, v.vehicle_class, v.seats, v.nev, km[v.id])
         for v in free.values()],
        wanted_class=trip.vehicle_class, passengers=trip.passenger_count)
    return [free[c.id] for c in ranked]


def ranked_drivers(session, trip: Trip) -> list[Driver]:
    """Free drivers who can sign in for the trip, fewest hours in the trip's week first."""
    free = {d.id: d for d in availability.free_drivers(session, trip.depart_at, trip.return_at)}
    minutes = availability.minutes_in_week(session, list(free), trip.depart_at)
    return [free[c.id] for c in policy.rank_drivers(
        [policy.DriverCandidate(d.id, minutes[d.id]) for d in free.values()])]


def _licence_refused(driver: Driver) -> ValidationFailed:
    return ValidationFailed("所选驾驶员的准驾车型不能驾驶该类车辆", code="licence_mismatch",
                            errors={"driver_id": [f"准驾车型 {driver.license_class} 不符"]})


def constraint_conflict(exc: IntegrityError) -> Conflict:
    """The 409 for an assignment the database refused (re-raises unrelated violations)."""
    detail = str(exc.orig)
    if "ex_assignments_vehicle_busy" in detail:
        return VehicleBusy()
    if "ex_assignments_driver_busy" in detail:
        return DriverBusy()
    if "uq_assignments_trip_active" in detail or "assignments.trip_id" in detail:
        return Conflict("该行程已派车", code="already_assigned")
    raise exc


def _insert(session, assignment: Assignment) -> Assignment:
    """Insert under a savepoint so that a lost race leaves the transaction usable."""
    try:
        with session.begin_nested():
            session.add(assignment)
    except IntegrityError as exc:
        raise constraint_conflict(exc) from exc
    return assignment


def _place(session, *, actor: User, trip: Trip, vehicle_id: int | None, driver_id: int | None,
           reason: str) -> Assignment:
    """Check (explicit) or rank (omitted) the vehicle and driver, then insert the assignment."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ASSIGNMENT_LOCK_KEY})
    vehicles = ([_explicit_vehicle(session, actor, trip, vehicle_id)] if vehicle_id
                else ranked_vehicles(session, trip))
    drivers = ([_explicit_driver(session, actor, trip, driver_id)] if driver_id
               else ranked_drivers(session, trip))
    if driver_id:
        licensed = [v for v in vehicles if drivers[0].may_drive(v.vehicle_class)]
        if vehicles and not licensed:
            raise _licence_refused(drivers[0])
        vehicles = licensed
    # Each vehicle in turn with the best driver licensed for it. A candidate the constraint
    # refuses (taken by a writer outside this path) drops out and the next one is tried;
    # explicit choices are not replaced.
    short_of_drivers = False
    while vehicles:
        vehicle = vehicles[0]
        driver = next((d for d in drivers if d.may_drive(vehicle.vehicle_class)), None)
        if driver is None:
            short_of_drivers = True
            vehicles.pop(0)
            continue
        try:
            return _insert(session, Assignment.for_window(
                trip, vehicle_id=vehicle.id, driver_id=driver.id,
                auto=not (vehicle_id or driver_id), assigned_by_id=actor.id, reason=reason))
        except VehicleBusy:
            if vehicle_id:
                raise
            vehicles.pop(0)
        except DriverBusy:
            if driver_id:
                raise
            drivers.remove(driver)
    if short_of_drivers:
        raise Conflict("该时段没有可驾驶所需车型的空闲驾驶员", code="no_driver_available")
    raise Conflict("该时段没有符合要求的空闲车辆", code="no_vehicle_available")


def describe_assignment(assignment: Assignment) -> dict:
    return {"assignment_id": assignment.id, "vehicle_id": assignment.vehicle_id,
            "plate": assignment.vehicle.plate, "driver_id": assignment.driver_id,
            "driver": assignment.driver.name, "auto": assignment.auto}


def audit_assignment(session, assignment: Assignment, action: str, actor_id: int | None,
                     comment: str = "", at: datetime | None = None) -> None:
    audit.record(session, entity="assignments", entity_id=assignment.id, action=action,
                 actor_id=actor_id, at=at, data={"trip_id": assignment.trip_id,
                                                 "comment": comment,
                                                 **describe_assignment(assignment)})


def release_assignment(session, assignment: Assignment, why: ReleaseReason, *,
                       actor_id: int | None, comment: str = "",
                       at: datetime | None = None) -> None:
    assignment.release(why, actor_id=actor_id, comment=comment, at=at)
    audit_assignment(session, assignment, f"released:{why.value}", actor_id, comment)
    session.flush()  # before any new insert, so the constraint no longer counts it


def _dispatcher_trip(session, actor: User, trip_id: int) -> Trip:
    trip = get_visible(session, actor, trip_id)
    if trip.channel != Channel.FLEET:
        raise Conflict("该行程不由公车平台派车", code="not_fleet_trip")
    return trip


# --- dispatcher use cases ------------------------------------------------------------------

def assign(session, *, actor: User, trip_id: int, vehicle_id: int | None = None,
           driver_id: int | None = None) -> Assignment:
    """Give a waiting fleet trip a vehicle and a driver (both omitted: auto-assign)."""
    trip = _dispatcher_trip(session, actor, trip_id)
    if not trip.dispatchable:
        raise IllegalTransition("该行程当前不能派车", code="not_dispatchable",
                                errors={"state": trip.state.value})
    assignment = _place(session, actor=actor, trip=trip, vehicle_id=vehicle_id,
                        driver_id=driver_id, reason="auto" if not (vehicle_id or driver_id)
                        else "manual")
    audit_assignment(session, assignment, "assigned", actor.id)
    trip.dispatch_issue = None
    event = trip.transition(session, S.DISPATCHED, actor_id=actor.id,
                            data=describe_assignment(assignment))
    events.publish(session, events.TRIP_DISPATCHED, trip=trip, at=event.at)
    return assignment


def reassign(session, *, actor: User, trip_id: int, reason: str, vehicle_id: int | None = None,
             driver_id: int | None = None) -> Assignment:
    """Change the vehicle and/or the driver before the trip starts.

    An omitted one is kept, unless both are omitted: then both are chosen afresh.
    """
    trip = _dispatcher_trip(session, actor, trip_id)
    old = active_assignment(session, trip.id)
    if not trip.reassignable or old is None:
        raise IllegalTransition("只有已派车且未出发的行程可以改派", code="not_reassignable",
                                errors={"state": trip.state.value})
    if vehicle_id or driver_id:
        vehicle_id = vehicle_id or old.vehicle_id
        driver_id = driver_id or old.driver_id
    release_assignment(session, old, ReleaseReason.REASSIGNED, actor_id=actor.id, comment=reason)
    new = _place(session, actor=actor, trip=trip, vehicle_id=vehicle_id, driver_id=driver_id,
                 reason=reason)
    audit_assignment(session, new, "assigned", actor.id, reason)
    event = trip.note(session, "dispatch:reassigned", actor_id=actor.id, comment=reason,
                      data={"previous_assignment_id": old.id, **describe_assignment(new)})
    events.publish(session, events.TRIP_REASSIGNED, trip=trip, previous=describe_assignment(old),
                   current=describe_assignment(new), at=event.at)
    return new


def unassign(session, *, actor: User, trip_id: int, reason: str) -> Trip:
    """Take the vehicle and driver back; the trip waits in the queue again."""
    trip = _dispatcher_trip(session, actor, trip_id)
    current = active_assignment(session, trip.id)
    if not trip.reassignable or current is None:
        raise IllegalTransition("只有已派车且未出发的行程可以撤销派车", code="not_unassignable",
                                errors={"state": trip.state.value})
    release_assignment(session, current, ReleaseReason.UNASSIGNED, actor_id=actor.id, comment=reason)
    event = trip.transition(session, trip.undispatched_state(), actor_id=actor.id,
                            comment=reason,
                            data={"action": "dispatch:unassigned", **describe_assignment(current)})
    events.publish(session, events.TRIP_REASSIGNED, trip=trip,
                   previous=describe_assignment(current), current=None, at=event.at)
    return trip


# --- the trip's cancellation and the action context -----------------------------------------

def release_on_cancel(session, *, trip: Trip, actor: User, reason: str, **_) -> None:
    """``trip_cancelled``: the vehicle and driver are free again at once."""
    current = active_assignment(session, trip.id)
    if current is not None:
        release_assignment(session, current, ReleaseReason.CANCELLED, actor_id=actor.id,
                           comment=reason)


def action_context(session, trip_ids: list[int]) -> dict[int, dict]:
    """For ``allowed_actions``: each trip's current driver (a user) and open dispute."""
    drivers = session.execute(
        select(Assignment.trip_id, Driver.user_id).join(Driver, Driver.id == Assignment.driver_id)
        .where(Assignment.trip_id.in_(trip_ids), Assignment.active)).all()
    disputed = session.scalars(select(TripDispute.trip_id).where(
        TripDispute.trip_id.in_(trip_ids), TripDispute.open)).all()
    context: dict[int, dict] = {trip_id: {"assigned": True, "driver_user_id": user_id}
                                for trip_id, user_id in drivers}
    for trip_id in disputed:
        context.setdefault(trip_id, {})["dispute_open"] = True
    return context
