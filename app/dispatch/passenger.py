"""The passenger's side of a completed trip: the applicant confirms or disputes, a
dispatcher resolves the dispute (correcting a fleet trip's recorded facts), and trips left
unconfirmed are confirmed automatically."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import exists, or_, select

from app import audit, clock
from app.accounts.models import User, Vehicle
from app.dispatch.models import TripDispute, TripRun
from app.dispatch.run import check_odometer, run_facts
from app.errors import Conflict, Forbidden, IllegalTransition
from app.trips import events
from app.trips.models import Channel, Trip, TripEvent, TripState
from app.trips.service import get_visible

S = TripState
# Unconfirmed this long after completion counts as confirmed (SPEC §2 step 8).
AUTO_CONFIRM_AFTER = timedelta(hours=72)


def _applicant_trip(session, actor: User, trip_id: int) -> Trip:
    trip = get_visible(session, actor, trip_id)
    if trip.applicant_id != actor.id:
        raise Forbidden("只有申请人可以确认或提出异议", code="not_applicant")
    if not trip.confirmable:
        raise IllegalTransition("只有已完成的行程可以确认或提出异议", code="not_completed",
                                errors={"state": trip.state.value})
    return trip


def open_dispute(session, trip_id: int) -> TripDispute | None:
    return session.scalar(select(TripDispute).where(TripDispute.trip_id == trip_id,
                                                    TripDispute.open))


def _confirm(session, trip: Trip, *, actor_id: int | None, auto: bool, comment: str) -> Trip:
    trip.transition(session, S.CONFIRMED, actor_id=actor_id, comment=comment,
                    data={"auto_confirmed": auto})
    events.publish(session, events.TRIP_CONFIRMED, trip=trip, auto=auto)
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
    if not trip.confirmable:
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
        check_odometer(correction.odometer_km, at=run.finished_at, last_km=run.start_odometer_km,
                       last_at=run.started_at, at_least=run.start_odometer_km,
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
        events.publish(session, events.TRIP_FINISHED, trip=trip, facts=run_facts(trip, run, vehicle))
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
