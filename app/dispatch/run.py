"""The driver's run: who the logged-in driver is, setting off (出车) and returning (收车)
with the odometer readings, tolls, parking, lodging and waiting time; the finished run as
the tariff's inputs."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from app import clock
from app.accounts.models import Driver, User, Vehicle
from app.dispatch.assignment import active_assignment, release_assignment
from app.dispatch.models import Assignment, ReleaseReason, TripRun
from app.errors import Forbidden, IllegalTransition, NotFound, ValidationFailed
from app.trips import events
from app.trips.models import Trip, TripState
from app.trips.service import can_view

S = TripState
# Hard limit (SPEC §6.1): no reading implying a higher average speed since the vehicle's
# last reading (the earliest start is the trip's: ``Trip.start_window_open``).
MAX_SPEED_KMH = 150


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


def check_odometer(reading: Decimal, *, at: datetime, last_km: Decimal, last_at: datetime,
                   at_least: Decimal, message: str) -> Decimal:
    """A reading taken at ``at``: never below ``at_least``, and no faster than
    ``MAX_SPEED_KMH`` since the last reading ``last_km`` taken at ``last_at`` (a hard limit,
    SPEC §6.1; softer anomalies are supervision's to flag)."""
    if reading < at_least:
        raise ValidationFailed(message, code="odometer_backwards",
                               errors={"odometer_km": [f"不能小于 {at_least} 公里"]})
    hours = Decimal((at - last_at).total_seconds()) / 3600
    if reading > last_km and (hours <= 0 or reading - last_km > MAX_SPEED_KMH * hours):
        limit = max(last_km + MAX_SPEED_KMH * max(hours, Decimal(0)), at_least)
        raise ValidationFailed(
            f"里程表读数不合理：距上次记录的 {last_km} 公里，平均时速将超过"
            f" {MAX_SPEED_KMH} 公里，请核对读数", code="odometer_implausible",
            errors={"odometer_km": [f"不能大于 {limit.quantize(Decimal('0.1'))} 公里"]})
    return reading


def start_trip(session, *, actor: User, trip_id: int, odometer_km: Decimal,
               at: datetime | None = None) -> TripRun:
    """The assigned driver sets off (出车) with the odometer reading."""
    trip, assignment = _assigned_trip(session, actor, trip_id)
    if not trip.startable:
        raise IllegalTransition("该行程当前不能出车", code="not_startable",
                                errors={"state": trip.state.value})
    started_at = _when(at, not_before=_last_state_change(trip),
                       field_message="出车时间不能早于派车时间")
    if not trip.start_window_open(started_at):
        raise IllegalTransition("出车时间不能早于行程出发时间前2小时", code="start_too_early",
                                errors={"at": ["早于出发时间前2小时"]})
    vehicle = assignment.vehicle
    check_odometer(odometer_km, at=started_at, last_km=vehicle.odometer_km,
                   last_at=vehicle.odometer_at, at_least=vehicle.odometer_km,
                   message="里程表读数不能小于车辆上次记录的读数")
    run = TripRun(trip=trip, assignment_id=assignment.id, vehicle_id=vehicle.id,
                  driver_id=assignment.driver_id, started_at=started_at,
                  start_odometer_km=odometer_km,
                  odometer_gap_km=odometer_km - vehicle.odometer_km)
    session.add(run)
    vehicle.odometer_km, vehicle.odometer_at = odometer_km, started_at
    trip.transition(session, S.IN_PROGRESS, actor_id=actor.id, at=started_at,
                    data={"odometer_km": str(odometer_km), "recorded_at": clock.now().isoformat()})
    events.publish(session, events.TRIP_STARTED, trip=trip, at=started_at)
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
    """The assigned driver returns (收车): odometer, tolls, parking, lodging, waiting.

    Returning frees the assignment, so a repeated finish (a retry after a lost answer) is
    recognised by the driver of the finished run and refused as a conflict, not a 404."""
    finished_by = session.scalar(
        select(Driver.user_id).join(TripRun, TripRun.driver_id == Driver.id)
        .where(TripRun.trip_id == trip_id, TripRun.finished_at.is_not(None)))
    if finished_by == actor.id:
        raise IllegalTransition("该行程已收车，不能重复收车", code="already_finished",
                                errors={"state": session.get(Trip, trip_id).state.value})
    trip, assignment = _assigned_trip(session, actor, trip_id)
    run = session.scalar(select(TripRun).where(TripRun.trip_id == trip.id))
    if not trip.finishable or run is None:
        raise IllegalTransition("该行程尚未出车，不能收车", code="not_finishable",
                                errors={"state": trip.state.value})
    finished_at = _when(report.at, not_before=run.started_at,
                        field_message="收车时间须晚于出车时间")
    vehicle = assignment.vehicle
    check_odometer(report.odometer_km, at=finished_at, last_km=vehicle.odometer_km,
                   last_at=vehicle.odometer_at,
                   at_least=max(run.start_odometer_km, vehicle.odometer_km),
                   message="收车里程表读数不能小于出车读数")
    run.finished_at = finished_at
    run.end_odometer_km = report.odometer_km
    run.km = report.odometer_km - run.start_odometer_km
    run.tolls, run.parking, run.lodging = report.tolls, report.parking, report.lodging
    run.waiting_minutes = report.waiting_minutes
    vehicle.odometer_km, vehicle.odometer_at = report.odometer_km, finished_at
    release_assignment(session, assignment, ReleaseReason.FINISHED, actor_id=actor.id, at=finished_at)
    trip.transition(session, S.COMPLETED, actor_id=actor.id, at=finished_at,
                    data={"km": str(run.km), "recorded_at": clock.now().isoformat()})
    events.publish(session, events.TRIP_FINISHED, trip=trip, facts=run_facts(trip, run, vehicle))
    return run


def run_facts(trip: Trip, run: TripRun, vehicle: Vehicle) -> events.FinishedRun:
    """A finished run as the tariff's inputs (billing prices them)."""
    return events.FinishedRun(
        trip_id=trip.id, vehicle_id=vehicle.id, driver_id=run.driver_id,
        vehicle_class=str(vehicle.vehicle_class), cross_region=trip.cross_region,
        started_at=run.started_at, finished_at=run.finished_at,
        start_odometer_km=run.start_odometer_km, end_odometer_km=run.end_odometer_km,
        odometer_km=run.km, waiting_minutes=run.waiting_minutes, tolls=run.tolls,
        parking=run.parking, lodging=run.lodging)
