"""Trip use cases: create a draft, cancel, and who may see which trip."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import or_

from app import audit, clock
from app.accounts.models import Role, User
from app.errors import Forbidden, IllegalTransition, NotFound, ValidationFailed
from app.security import in_scope, scope_filter
from app.trips import events
from app.trips.geo import CityBounds, is_cross_region
from app.trips.models import Trip, TripState

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
