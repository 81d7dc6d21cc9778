"""Seams where other domains join the trip lifecycle (billing prices a finished trip,
providers charge a cancellation fee, approvals close their workflow on cancel).

Handlers register with ``@hooks.on("trip_finished")`` at import time; each event calls its
handlers in registration order, inside the caller's transaction. With no handler
registered an event does nothing: dispatch never computes money itself.

``provider_bill``: a provider trip ended with its final bill (app/orders); billing registers
``record_provider_bill(session, *, trip, bill, order)`` for it. ``cancellation_fee``: a
cancelled trip's provider charged a fee (SPEC §5.3); billing makes it a final charge.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Callable

EVENTS = ("trip_finished", "trip_confirmed", "trip_cancelled", "cancellation_fee",
          "provider_bill")
_handlers: dict[str, list[Callable]] = defaultdict(list)


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


def on(event: str):
    """Register the decorated function as a handler of ``event``."""
    if event not in EVENTS:
        raise ValueError(f"unknown lifecycle event {event!r}")

    def wrap(fn):
        if fn not in _handlers[event]:  # registering twice still calls it once
            _handlers[event].append(fn)
        return fn

    return wrap


def unregister(event: str, fn: Callable) -> None:
    _handlers[event].remove(fn)


def on_trip_finished(session, trip, facts: FinishedRun) -> None:
    """The driver finished a fleet trip (the provisional charge is computed here)."""
    for handler in _handlers["trip_finished"]:
        handler(session, trip, facts)


def on_trip_confirmed(session, trip, *, auto: bool = False) -> None:
    """The passenger confirmed (or 72 h passed): the charge becomes final."""
    for handler in _handlers["trip_confirmed"]:
        handler(session, trip, auto=auto)


def on_trip_cancelled(session, trip) -> CancellationFee | None:
    """The trip was cancelled; returns the first fee a handler reports, if any."""
    fee = None
    for handler in _handlers["trip_cancelled"]:
        result = handler(session, trip)
        if fee is None and result is not None:
            fee = result
    return fee


def on_cancellation_fee(session, trip, fee: CancellationFee, *, at: datetime) -> None:
    """The cancelled trip's provider charged ``fee`` (recorded on the trip already)."""
    for handler in _handlers["cancellation_fee"]:
        handler(session, trip, fee, at=at)


def on_provider_bill(session, trip, *, bill, order) -> None:
    """A rental or ride-hailing provider sent its final bill (providers.base.Bill, Order)."""
    for handler in _handlers["provider_bill"]:
        handler(session, trip=trip, bill=bill, order=order)
