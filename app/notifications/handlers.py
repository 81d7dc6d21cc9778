"""What the trip lifecycle tells people (SPEC §10), subscribed to the trip events.

Travelers: approved, rejected, expired, cancelled (by someone else), vehicle assigned with
the plate and the driver's phone, please confirm. Drivers: a new task, a changed one, a
cancelled one. (Approvers are told by approvals itself, through ``notify``.) The fleet
crew is read from the trip's own history (the dispatch events carry the assignment), so
this package depends on trips and accounts only.
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select

from app import clock
from app.accounts.models import Driver, User
from app.notifications.models import UserMessage
from app.notifications.service import notify
from app.trips.models import Trip, TripState

log = logging.getLogger(__name__)

APPLICANT_PAGE = "pages/trip/detail?id={id}"
DRIVER_PAGE = "pages/driver/tasks?trip_id={id}"


def _stops(trip: Trip) -> tuple[str, str]:
    stops = trip.stops or [{}]
    return stops[0].get("name", "") or "-", stops[-1].get("name", "") or "-"


def current_crew(trip: Trip, events=None) -> dict | None:
    """The fleet assignment in force after ``events`` (the trip's history by default):
    the newest dispatch or reassignment, unless an unassignment came after it."""
    for event in reversed(list(trip.events if events is None else events)):
        data = event.data or {}
        if data.get("action") == "dispatch:unassigned":
            return None
        if "driver_id" in data and (event.to_state == TripState.DISPATCHED
                                    or data.get("action") == "dispatch:reassigned"):
            return data
    return None


def _result(session, trip: Trip, phrase: str, note: str, at: datetime | None) -> None:
    notify(session, trip.applicant, "trip_result",
           {"character_string1": trip.number, "phrase2": phrase, "time3": trip.depart_at,
            "thing4": note}, APPLICANT_PAGE.format(id=trip.id), ref=f"trip:{trip.id}", now=at)


def on_approved(session, *, trip: Trip, at: datetime | None = None, **_) -> None:
    _result(session, trip, "已通过", "审批已通过，等待派车", at)


def on_rejected(session, *, trip: Trip, at: datetime | None = None, **_) -> None:
    reason = next((e.comment for e in reversed(trip.events) if e.comment), "")
    _result(session, trip, "已驳回", reason or "申请未获批准，详见行程", at)


def on_expired(session, *, trip: Trip, at: datetime | None = None, **_) -> None:
    _result(session, trip, "已过期", "出发前未完成审批，申请已失效", at)


def on_cancelled(session, *, trip: Trip, actor: User, reason: str = "",
                 at: datetime | None = None, **_) -> None:
    if actor is None or actor.id != trip.applicant_id:
        _result(session, trip, "已取消", reason or "行程已被取消", at)
    cancel = trip.events[-1] if trip.events else None
    if cancel is not None and cancel.from_state == TripState.DISPATCHED:
        crew = current_crew(trip, trip.events[:-1])
        if crew:
            _driver_task(session, trip, crew, "任务取消", at)


def on_dispatched(session, *, trip: Trip, at: datetime | None = None, **_) -> None:
    crew = current_crew(trip)
    if crew is None:
        return  # a provider's order: its plate and driver arrive with the provider's callbacks
    _vehicle_assigned(session, trip, crew, at)
    _driver_task(session, trip, crew, "新任务", at)


def on_crew_known(session, *, trip: Trip, crew: dict, at: datetime | None = None, **_) -> None:
    """A provider's plate and driver (ride-hailing, rental): the traveler hears of them."""
    _tell_vehicle(session, trip, crew.get("plate"), crew.get("driver_name"),
                  crew.get("driver_phone"), at)


def on_reassigned(session, *, trip: Trip, previous: dict, current: dict | None,
                  at: datetime | None = None, **_) -> None:
    if current is None:
        _driver_task(session, trip, previous, "任务取消", at)
        _result(session, trip, "待派车", "原派车已撤销，正在重新安排", at)
        return
    if previous.get("driver_id") == current.get("driver_id"):
        _driver_task(session, trip, current, "任务变更", at)
    else:
        _driver_task(session, trip, previous, "任务取消", at)
        _driver_task(session, trip, current, "新任务", at)
    _vehicle_assigned(session, trip, current, at)


def on_finished(session, *, trip: Trip, **_) -> None:
    """Please confirm — once per trip (a dispute's correction publishes the event again)."""
    ref = f"trip:{trip.id}:confirm"
    if session.scalar(select(UserMessage.id).where(UserMessage.user_id == trip.applicant_id,
                                                   UserMessage.ref == ref).limit(1)):
        return
    notify(session, trip.applicant, "trip_confirm",
           {"character_string1": trip.number, "time2": clock.now(),
            "thing3": "请核对里程和费用并确认行程"}, APPLICANT_PAGE.format(id=trip.id), ref=ref)


def _driver(session, crew: dict) -> Driver | None:
    return session.get(Driver, crew["driver_id"]) if crew.get("driver_id") else None


def _vehicle_assigned(session, trip: Trip, crew: dict, at: datetime | None) -> None:
    """A fleet assignment (``describe_assignment``): the driver's phone from their record."""
    driver = _driver(session, crew)
    _tell_vehicle(session, trip, crew.get("plate"), crew.get("driver"),
                  driver.phone if driver else None, at)


def _tell_vehicle(session, trip: Trip, plate: str | None, driver: str | None,
                  phone: str | None, at: datetime | None) -> None:
    origin, _ = _stops(trip)
    notify(session, trip.applicant, "vehicle_assigned",
           {"car_number1": plate or "待定", "name2": driver or "-", "phone_number3": phone or "-",
            "time4": trip.depart_at, "thing5": origin},
           APPLICANT_PAGE.format(id=trip.id), ref=f"trip:{trip.id}", now=at)


def _driver_task(session, trip: Trip, crew: dict, phrase: str, at: datetime | None) -> None:
    driver = _driver(session, crew)
    user = session.get(User, driver.user_id) if driver and driver.user_id else None
    if user is None:
        log.info("trip %s: driver %s has no account, not told (%s)", trip.id,
                 crew.get("driver_id"), phrase)
        return
    origin, destination = _stops(trip)
    passenger = (trip.passengers or [{}])[0].get("name") or trip.applicant.name
    notify(session, user, "driver_task",
           {"phrase1": phrase, "time2": trip.depart_at, "thing3": origin, "thing4": destination,
            "name5": passenger, "phone_number6": trip.applicant.phone},
           DRIVER_PAGE.format(id=trip.id), ref=f"trip:{trip.id}", now=at)
