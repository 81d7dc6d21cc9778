"""Dispatch use cases: assign, reassign and unassign a vehicle and driver; the driver starts
and finishes; the passenger confirms or disputes; the traveler or a dispatcher cancels.

Every function runs inside the request's unit of work (the view never commits). On SQLite
the request already holds the single writer (``db.begin_write``), so the busy checks below
cannot interleave. On PostgreSQL the exclusion constraints are the guarantee; writers of
assignments also queue on one advisory lock, because two inserts that each conflict with
the other on the vehicle and the driver constraint would otherwise deadlock, and because the
check then gives the clearer answer. A violation still becomes the same 409 as the check.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, exists, or_, select, text
from sqlalchemy.exc import IntegrityError

from app import audit, clock
from app.accounts.models import Driver, Role, User, Vehicle, VehicleStatus
from app.approvals.policy import trip_dispatchable
from app.dispatch import availability, hooks, policy
from app.dispatch.models import Assignment, ReleaseReason, TripDispute, TripRun
from app.errors import Conflict, Forbidden, IllegalTransition, NotFound, ValidationFailed
from app.security import in_scope
from app.trips.models import Channel, Purpose, Trip, TripEvent, TripState
from app.trips.service import can_view, get_visible

S = TripState
# pg_advisory_xact_lock key of the assignment writers ("disp").
ASSIGNMENT_LOCK_KEY = 0x64697370
# Unconfirmed this long after completion counts as confirmed (SPEC §2 step 8).
AUTO_CONFIRM_AFTER = timedelta(hours=72)


class VehicleBusy(Conflict):
    code, message = "vehicle_busy", "该车辆在所选时段已有任务（前后须间隔30分钟），请选择其他车辆"


class DriverBusy(Conflict):
    code, message = "driver_busy", "该驾驶员在所选时段已有任务（前后须间隔30分钟），请选择其他驾驶员"


# --- what waits for dispatch ---------------------------------------------------------------

# Approved, or emergency (先用后补) pending approval: the approvals domain's rule.
dispatchable = trip_dispatchable


def dispatchable_condition():
    """SQL twin of ``dispatchable``."""
    return or_(Trip.state == S.APPROVED,
               and_(Trip.state == S.PENDING_APPROVAL, Trip.purpose_category == Purpose.EMERGENCY))


def queue_condition():
    """SQL: fleet trips waiting for a vehicle, and provider trips whose booking failed."""
    return and_(dispatchable_condition(),
                or_(Trip.channel == Channel.FLEET, Trip.dispatch_issue.is_not(None)))


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


def ranked_vehicles(session, trip: Trip) -> list[int]:
    """Free fitting vehicles for the trip, best first (see ``policy.rank_vehicles``)."""
    free = availability.free_vehicles(session, trip.vehicle_class, trip.passenger_count,
                                      trip.depart_at, trip.return_at)
    km = availability.km_this_year(session, [v.id for v in free])
    ranked = policy.rank_vehicles(
        [policy.VehicleCandidate(v.id, v.vehicle_class, v.seats, v.nev, km[v.id]) for v in free],
        wanted_class=trip.vehicle_class, passengers=trip.passenger_count)
    return [c.id for c in ranked]


def ranked_drivers(session, trip: Trip) -> list[int]:
    """Free drivers for the trip, fewest hours in the trip's week first."""
    free = availability.free_drivers(session, trip.depart_at, trip.return_at)
    minutes = availability.minutes_in_week(session, [d.id for d in free], trip.depart_at)
    return [c.id for c in policy.rank_drivers(
        [policy.DriverCandidate(d.id, minutes[d.id]) for d in free])]


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
    vehicles = ([_explicit_vehicle(session, actor, trip, vehicle_id).id] if vehicle_id
                else ranked_vehicles(session, trip))
    drivers = ([_explicit_driver(session, actor, trip, driver_id).id] if driver_id
               else ranked_drivers(session, trip))
    # A candidate the constraint refuses (taken by a writer outside this path) drops out and
    # the next one is tried; explicit choices are not replaced.
    while vehicles and drivers:
        try:
            return _insert(session, Assignment.for_window(
                trip, vehicle_id=vehicles[0], driver_id=drivers[0],
                auto=not (vehicle_id or driver_id), assigned_by_id=actor.id, reason=reason))
        except VehicleBusy:
            if vehicle_id:
                raise
            vehicles.pop(0)
        except DriverBusy:
            if driver_id:
                raise
            drivers.pop(0)
    if not vehicles:
        raise Conflict("该时段没有符合要求的空闲车辆", code="no_vehicle_available")
    raise Conflict("该时段没有空闲的驾驶员", code="no_driver_available")


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
    if not dispatchable(trip):
        raise IllegalTransition("该行程当前不能派车", code="not_dispatchable",
                                errors={"state": trip.state.value})
    assignment = _place(session, actor=actor, trip=trip, vehicle_id=vehicle_id,
                        driver_id=driver_id, reason="auto" if not (vehicle_id or driver_id)
                        else "manual")
    audit_assignment(session, assignment, "assigned", actor.id)
    trip.dispatch_issue = None
    trip.transition(session, S.DISPATCHED, actor_id=actor.id, data=describe_assignment(assignment))
    return assignment


def reassign(session, *, actor: User, trip_id: int, reason: str, vehicle_id: int | None = None,
             driver_id: int | None = None) -> Assignment:
    """Change the vehicle and/or the driver before the trip starts.

    An omitted one is kept, unless both are omitted: then both are chosen afresh.
    """
    trip = _dispatcher_trip(session, actor, trip_id)
    old = active_assignment(session, trip.id)
    if trip.state != S.DISPATCHED or old is None:
        raise IllegalTransition("只有已派车且未出发的行程可以改派", code="not_reassignable",
                                errors={"state": trip.state.value})
    if vehicle_id or driver_id:
        vehicle_id = vehicle_id or old.vehicle_id
        driver_id = driver_id or old.driver_id
    release_assignment(session, old, ReleaseReason.REASSIGNED, actor_id=actor.id, comment=reason)
    new = _place(session, actor=actor, trip=trip, vehicle_id=vehicle_id, driver_id=driver_id,
                 reason=reason)
    audit_assignment(session, new, "assigned", actor.id, reason)
    trip.note(session, "dispatch:reassigned", actor_id=actor.id, comment=reason,
              data={"previous_assignment_id": old.id, **describe_assignment(new)})
    return new


def _state_before_dispatch(trip: Trip) -> TripState:
    """Where an unassigned trip goes back to: approved; or, for an emergency trip dispatched
    before its approval, pending, unless the approval ended while it was on the road (the
    approvals module notes that decision as ``final``), in which case the decision's state."""
    decided = None
    for event in reversed(trip.events):
        if event.to_state == S.DISPATCHED and event.from_state != S.DISPATCHED:
            if event.from_state != S.PENDING_APPROVAL:
                return S.APPROVED
            return TripState(decided) if decided else S.PENDING_APPROVAL
        final = (event.data or {}).get("final")
        if decided is None and final in (S.APPROVED.value, S.REJECTED.value):
            decided = final
    return S.APPROVED


def unassign(session, *, actor: User, trip_id: int, reason: str) -> Trip:
    """Take the vehicle and driver back; the trip waits in the queue again."""
    trip = _dispatcher_trip(session, actor, trip_id)
    current = active_assignment(session, trip.id)
    if trip.state != S.DISPATCHED or current is None:
        raise IllegalTransition("只有已派车且未出发的行程可以撤销派车", code="not_unassignable",
                                errors={"state": trip.state.value})
    release_assignment(session, current, ReleaseReason.UNASSIGNED, actor_id=actor.id, comment=reason)
    trip.transition(session, _state_before_dispatch(trip), actor_id=actor.id, comment=reason,
                    data={"action": "dispatch:unassigned", **describe_assignment(current)})
    return trip


# --- the driver ----------------------------------------------------------------------------

def driver_of(session, user: User) -> Driver:
    """The driver record linked to the logged-in user (403 when there is none)."""
    driver = session.scalar(select(Driver).where(Driver.user_id == user.id, Driver.active))
    if driver is None:
        raise Forbidden("您的账号未关联驾驶员档案", code="not_a_driver")
    return driver


def _assigned_trip(session, user: User, trip_id: int) -> tuple[Trip, Assignment]:
    """The trip with its active assignment, when ``user`` is its driver."""
    trip = session.get(Trip, trip_id)
    assignment = active_assignment(session, trip_id) if trip else None
    if assignment is not None and assignment.driver.user_id == user.id:
        return trip, assignment
    if trip is not None and can_view(user, trip):
        raise Forbidden("只有被指派的驾驶员可以操作该行程", code="not_assigned_driver")
    raise NotFound("行程不存在")


def _when(at: datetime | None, *, not_before: datetime, field_message: str) -> datetime:
    """The event time the driver gives (recorded offline), or now; never in the future."""
    now = clock.now()
    if at is None:
        return now
    at = clock.ensure_aware(at)
    if at > now:
        raise ValidationFailed("时间不能晚于当前时间", code="time_in_future",
                               errors={"at": ["不能晚于当前时间"]})
    if at <= not_before:
        raise ValidationFailed(field_message, code="time_out_of_order",
                               errors={"at": [field_message]})
    return at


def _last_state_change(trip: Trip) -> datetime:
    return max(e.at for e in trip.events if e.from_state != e.to_state)


def _odometer(reading: Decimal, *, at_least: Decimal, message: str) -> Decimal:
    if reading < at_least:
        raise ValidationFailed(message, code="odometer_backwards",
                               errors={"odometer_km": [f"不能小于 {at_least} 公里"]})
    return reading


def start_trip(session, *, actor: User, trip_id: int, odometer_km: Decimal,
               at: datetime | None = None) -> TripRun:
    """The assigned driver sets off (出车) with the odometer reading."""
    trip, assignment = _assigned_trip(session, actor, trip_id)
    if trip.state != S.DISPATCHED:
        raise IllegalTransition("该行程当前不能出车", code="not_startable",
                                errors={"state": trip.state.value})
    started_at = _when(at, not_before=_last_state_change(trip),
                       field_message="出车时间不能早于派车时间")
    vehicle = assignment.vehicle
    _odometer(odometer_km, at_least=vehicle.odometer_km,
              message="里程表读数不能小于车辆上次记录的读数")
    run = TripRun(trip=trip, assignment_id=assignment.id, vehicle_id=vehicle.id,
                  driver_id=assignment.driver_id, started_at=started_at,
                  start_odometer_km=odometer_km,
                  odometer_gap_km=odometer_km - vehicle.odometer_km)
    session.add(run)
    vehicle.odometer_km = odometer_km
    trip.transition(session, S.IN_PROGRESS, actor_id=actor.id, at=started_at,
                    data={"odometer_km": str(odometer_km), "recorded_at": clock.now().isoformat()})
    return run


@dataclass(frozen=True)
class FinishReport:
    odometer_km: Decimal
    tolls: Decimal
    parking: Decimal
    lodging: Decimal
    waiting_minutes: int
    at: datetime | None = None


def finish_trip(session, *, actor: User, trip_id: int, report: FinishReport) -> TripRun:
    """The assigned driver returns (收车): odometer, tolls, parking, lodging, waiting."""
    trip, assignment = _assigned_trip(session, actor, trip_id)
    run = session.scalar(select(TripRun).where(TripRun.trip_id == trip.id))
    if trip.state != S.IN_PROGRESS or run is None:
        raise IllegalTransition("该行程尚未出车，不能收车", code="not_finishable",
                                errors={"state": trip.state.value})
    finished_at = _when(report.at, not_before=run.started_at,
                        field_message="收车时间须晚于出车时间")
    vehicle = assignment.vehicle
    _odometer(report.odometer_km, at_least=max(run.start_odometer_km, vehicle.odometer_km),
              message="收车里程表读数不能小于出车读数")
    run.finished_at = finished_at
    run.end_odometer_km = report.odometer_km
    run.km = report.odometer_km - run.start_odometer_km
    run.tolls, run.parking, run.lodging = report.tolls, report.parking, report.lodging
    run.waiting_minutes = report.waiting_minutes
    vehicle.odometer_km = report.odometer_km
    release_assignment(session, assignment, ReleaseReason.FINISHED, actor_id=actor.id, at=finished_at)
    trip.transition(session, S.COMPLETED, actor_id=actor.id, at=finished_at,
                    data={"km": str(run.km), "recorded_at": clock.now().isoformat()})
    hooks.on_trip_finished(session, trip, run_facts(trip, run, vehicle))
    return run


def run_facts(trip: Trip, run: TripRun, vehicle: Vehicle) -> hooks.FinishedRun:
    """A finished run as the tariff's inputs (billing prices them)."""
    return hooks.FinishedRun(
        trip_id=trip.id, vehicle_id=vehicle.id, driver_id=run.driver_id,
        vehicle_class=str(vehicle.vehicle_class), cross_region=trip.cross_region,
        started_at=run.started_at, finished_at=run.finished_at,
        start_odometer_km=run.start_odometer_km, end_odometer_km=run.end_odometer_km,
        odometer_km=run.km, waiting_minutes=run.waiting_minutes, tolls=run.tolls,
        parking=run.parking, lodging=run.lodging)


# --- the passenger -------------------------------------------------------------------------

def _applicant_trip(session, actor: User, trip_id: int) -> Trip:
    trip = get_visible(session, actor, trip_id)
    if trip.applicant_id != actor.id:
        raise Forbidden("只有申请人可以确认或提出异议", code="not_applicant")
    if trip.state != S.COMPLETED:
        raise IllegalTransition("只有已完成的行程可以确认或提出异议", code="not_completed",
                                errors={"state": trip.state.value})
    return trip


def open_dispute(session, trip_id: int) -> TripDispute | None:
    return session.scalar(select(TripDispute).where(TripDispute.trip_id == trip_id,
                                                    TripDispute.open))


def _confirm(session, trip: Trip, *, actor_id: int | None, auto: bool, comment: str) -> Trip:
    trip.transition(session, S.CONFIRMED, actor_id=actor_id, comment=comment,
                    data={"auto_confirmed": auto})
    hooks.on_trip_confirmed(session, trip, auto=auto)
    return trip


def confirm(session, *, actor: User, trip_id: int) -> Trip:
    """The applicant accepts the mileage and charge; an open dispute is closed by it."""
    trip = _applicant_trip(session, actor, trip_id)
    dispute = open_dispute(session, trip.id)
    if dispute is not None:
        _close_dispute(session, dispute, actor=actor, resolution="申请人确认", action="closed",
                       data={"trip_id": trip.id, "by": "confirmation"})
    return _confirm(session, trip, actor_id=actor.id, auto=False, comment="申请人确认")


def dispute(session, *, actor: User, trip_id: int, reason: str) -> TripDispute:
    """The applicant objects; the trip stays completed (and is not auto-confirmed)."""
    trip = _applicant_trip(session, actor, trip_id)
    if open_dispute(session, trip.id) is not None:
        raise Conflict("该行程已有待处理的异议", code="dispute_open")
    row = TripDispute(trip_id=trip.id, raised_by_id=actor.id, reason=reason)
    session.add(row)
    session.flush()
    audit.record(session, entity="trip_disputes", entity_id=row.id, action="opened",
                 actor_id=actor.id, data={"trip_id": trip.id, "reason": reason})
    trip.note(session, "dispute:opened", actor_id=actor.id, comment=reason,
              data={"dispute_id": row.id})
    return row


@dataclass(frozen=True)
class Correction:
    """Corrected finish facts of a fleet trip (None: keep what the driver recorded)."""
    odometer_km: Decimal | None = None
    tolls: Decimal | None = None
    parking: Decimal | None = None
    lodging: Decimal | None = None
    waiting_minutes: int | None = None

    def any(self) -> bool:
        return any(v is not None for v in (self.odometer_km, self.tolls, self.parking,
                                           self.lodging, self.waiting_minutes))


def resolve_dispute(session, *, actor: User, trip_id: int, resolution: str,
                    correction: Correction = Correction()) -> TripDispute:
    """A dispatcher answers the passenger's objection, correcting a fleet trip's recorded
    facts when they were wrong: the charge is recomputed by billing (still provisional) and
    the passenger confirms again; the 72 h auto-confirmation counts from this answer."""
    trip = get_visible(session, actor, trip_id)
    if trip.state != S.COMPLETED:
        raise IllegalTransition("只有已完成的行程可以处理异议", code="not_completed",
                                errors={"state": trip.state.value})
    dispute = open_dispute(session, trip.id)
    if dispute is None:
        raise Conflict("该行程没有待处理的异议", code="no_open_dispute")
    changes: dict = {}
    if correction.any():
        changes = _correct_run(session, trip, correction)
    _close_dispute(session, dispute, actor=actor, resolution=resolution, action="resolved",
                   data={"trip_id": trip.id, "resolution": resolution, "corrected": changes})
    trip.note(session, "dispute:resolved", actor_id=actor.id, at=dispute.closed_at,
              comment=resolution, data={"dispute_id": dispute.id, "corrected": changes})
    return dispute


def _close_dispute(session, dispute: TripDispute, *, actor: User, resolution: str, action: str,
                   data: dict) -> None:
    dispute.open = False
    dispute.closed_at, dispute.closed_by_id, dispute.resolution = clock.now(), actor.id, resolution
    audit.record(session, entity="trip_disputes", entity_id=dispute.id, action=action,
                 actor_id=actor.id, at=dispute.closed_at, data=data)


def _correct_run(session, trip: Trip, correction: Correction) -> dict:
    """Apply ``correction`` to the trip's run; returns {field: [before, after]} as strings."""
    if trip.channel != Channel.FLEET:
        raise Conflict("网约车、租赁行程的费用以供应商账单为准，不能在此更正",
                       code="not_fleet_trip")
    run = session.scalar(select(TripRun).where(TripRun.trip_id == trip.id))
    vehicle = session.get(Vehicle, run.vehicle_id)
    changes: dict = {}
    if correction.odometer_km is not None and correction.odometer_km != run.end_odometer_km:
        if vehicle.odometer_km != run.end_odometer_km:
            raise Conflict("该车辆已有后续行程记录，不能再更正本次收车里程",
                           code="odometer_superseded")
        _odometer(correction.odometer_km, at_least=run.start_odometer_km,
                  message="收车里程表读数不能小于出车读数")
        changes["odometer_km"] = [str(run.end_odometer_km), str(correction.odometer_km)]
        run.end_odometer_km = vehicle.odometer_km = correction.odometer_km
        run.km = correction.odometer_km - run.start_odometer_km
    for name in ("tolls", "parking", "lodging", "waiting_minutes"):
        value = getattr(correction, name)
        if value is not None and value != getattr(run, name):
            changes[name] = [str(getattr(run, name)), str(value)]
            setattr(run, name, value)
    if changes:
        hooks.on_trip_finished(session, trip, run_facts(trip, run, vehicle))
    return changes


def auto_confirm_due(session, now: datetime) -> int:
    """Confirm trips completed more than 72 h ago without a confirmation or open dispute
    (after a resolved dispute, the 72 h count from its resolution)."""
    cutoff = now - AUTO_CONFIRM_AFTER
    due = (select(Trip.id).where(
        Trip.state == S.COMPLETED,
        exists().where(TripEvent.trip_id == Trip.id, TripEvent.to_state == S.COMPLETED,
                       TripEvent.from_state != S.COMPLETED, TripEvent.at <= cutoff),
        ~exists().where(TripDispute.trip_id == Trip.id,
                        or_(TripDispute.open, TripDispute.closed_at > cutoff)))
        .order_by(Trip.id).with_for_update(skip_locked=True))
    ids = list(session.scalars(due))
    for trip_id in ids:
        _confirm(session, session.get(Trip, trip_id), actor_id=None, auto=True,
                 comment="完成后72小时未确认，系统自动确认")
    return len(ids)


# --- cancellation --------------------------------------------------------------------------

def cancel(session, *, actor: User, trip_id: int, reason: str) -> Trip:
    """Cancel by the traveler (own trip) or a dispatcher, in any state that allows it;
    releases the vehicle and driver and records a provider's cancellation fee."""
    trip = get_visible(session, actor, trip_id)
    if trip.applicant_id != actor.id and not actor.has_role(Role.DISPATCHER):
        raise Forbidden("只有申请人或调度员可以取消行程", code="not_cancellable_by_you")
    if not trip.can_transition(S.CANCELLED):
        raise IllegalTransition("行程已出发或已结束，不能取消", code="not_cancellable",
                                errors={"state": trip.state.value})
    current = active_assignment(session, trip.id)
    if current is not None:
        release_assignment(session, current, ReleaseReason.CANCELLED, actor_id=actor.id, comment=reason)
    fee = hooks.on_trip_cancelled(session, trip)
    data = {}
    if fee is not None:
        trip.cancellation_fee = fee.amount
        data = {"cancellation_fee": str(fee.amount), "provider": fee.provider}
    event = trip.transition(session, S.CANCELLED, actor_id=actor.id, comment=reason, data=data)
    if fee is not None:
        hooks.on_cancellation_fee(session, trip, fee, at=event.at)
    return trip
