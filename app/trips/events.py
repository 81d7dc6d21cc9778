"""The trip lifecycle's events: what trips publish and the other domains subscribe to.

Publishers name the event and pass the trip (plus the event's payload); subscribers are
registered in each domain's ``init_app`` through ``subscribe``. Handlers run inside the
publisher's transaction, in subscription order (see ``app.events``):

- ``trip_submitted``, ``trip_approved``, ``trip_rejected``, ``trip_withdrawn``,
  ``trip_expired`` (approvals), ``trip_dispatched``, ``trip_started`` (dispatch, orders):
  ``handler(session, trip=..., at=...)``.
- ``trip_reassigned``: dispatch changed or took back the vehicle/driver before departure;
  ``handler(session, trip=..., previous=..., current=..., at=...)`` with the assignments
  described as dicts (``plate``, ``driver_id``, ``driver``…), ``current`` None when
  unassigned — notifications tells the drivers and the traveler.
- ``trip_crew_known``: a provider told the trip's plate and driver (a ride-hailing driver
  accepted, or another one took over); ``handler(session, trip=..., crew={"plate",
  "driver_name", "driver_phone"}, at=...)``.
- ``trip_finished``: a fleet run ended, or its facts were corrected in a dispute;
  ``handler(session, trip=..., facts=FinishedRun)`` — billing prices it.
- ``trip_confirmed``: the passenger confirmed, or 72 h passed (``auto``); billing makes the
  charge final.
- ``trip_cancelled``: ``handler(session, trip=..., actor=..., reason=..., at=...)``;
  dispatch releases the assignment, approvals close open tasks, orders cancel the provider
  order and return the ``CancellationFee`` the provider charges (others return None).
- ``cancellation_fee``: the fee is on the trip; billing makes it a final charge.
- ``provider_bill``: a provider's final bill arrived (``bill``, ``order``); billing records it.
- ``trip_settled``: the statement carrying the trip's charge closed.
- ``trip_price_changed`` (orders): the locked price expired before booking and the
  provider's new price is beyond the policy's tolerance; the trip is back with the traveler
  (``price_changed``). ``handler(session, trip=..., approved=..., new_price=..., at=...)``
  (``new_price`` None: the provider no longer offers the product).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable

from flask import Flask

from app import events

TRIP_SUBMITTED = "trip_submitted"
TRIP_APPROVED = "trip_approved"
TRIP_REJECTED = "trip_rejected"
TRIP_WITHDRAWN = "trip_withdrawn"
TRIP_EXPIRED = "trip_expired"
TRIP_DISPATCHED = "trip_dispatched"
TRIP_STARTED = "trip_started"
TRIP_REASSIGNED = "trip_reassigned"
TRIP_CREW_KNOWN = "trip_crew_known"
TRIP_FINISHED = "trip_finished"
TRIP_CONFIRMED = "trip_confirmed"
TRIP_CANCELLED = "trip_cancelled"
CANCELLATION_FEE = "cancellation_fee"
PROVIDER_BILL = "provider_bill"
TRIP_SETTLED = "trip_settled"
TRIP_PRICE_CHANGED = "trip_price_changed"

EVENTS = (TRIP_SUBMITTED, TRIP_APPROVED, TRIP_REJECTED, TRIP_WITHDRAWN, TRIP_EXPIRED,
          TRIP_DISPATCHED, TRIP_STARTED, TRIP_REASSIGNED, TRIP_CREW_KNOWN, TRIP_FINISHED,
          TRIP_CONFIRMED, TRIP_CANCELLED, CANCELLATION_FEE, PROVIDER_BILL, TRIP_SETTLED,
          TRIP_PRICE_CHANGED)


@dataclass(frozen=True)
class FinishedRun:
    """What the driver recorded at finish — the inputs of the paid-use tariff (SPEC §5.1)."""

    trip_id: int
    vehicle_id: int
    driver_id: int
    vehicle_class: str
    cross_region: bool
    started_at: datetime
    finished_at: datetime
    start_odometer_km: Decimal
    end_odometer_km: Decimal
    odometer_km: Decimal
    waiting_minutes: int
    tolls: Decimal
    parking: Decimal
    lodging: Decimal


@dataclass(frozen=True)
class CancellationFee:
    """A fee a provider charges for a cancelled order (网约车取消费)."""

    amount: Decimal
    provider: str
    extra: dict = field(default_factory=dict)


def _known(name: str) -> str:
    if name not in EVENTS:
        raise ValueError(f"unknown trip event {name!r}")
    return name


def subscribe(app: Flask, name: str, handler: Callable[..., Any]) -> None:
    events.subscribe(app, _known(name), handler)


def unsubscribe(app: Flask, name: str, handler: Callable[..., Any]) -> None:
    events.unsubscribe(app, _known(name), handler)


def publish(session, name: str, *, trip, **payload) -> list[Any]:
    """Tell the subscribers of ``name`` about ``trip``; returns their answers in order."""
    return events.publish(session, _known(name), trip=trip, **payload)
