"""Billing's handlers of the trip lifecycle events (subscribed in ``app.billing.init_app``)."""
from __future__ import annotations

from app.billing import service
from app.trips.events import CancellationFee, FinishedRun
from app.trips.models import Channel


def price_finished_trip(session, *, trip, facts: FinishedRun) -> None:
    """A fleet trip finished: its provisional charge by the paid-use tariff."""
    if trip.channel in (None, Channel.FLEET):
        service.charge_fleet_trip(session, trip=trip, facts=facts)


def finalize_charge(session, *, trip, auto: bool) -> None:
    service.finalize(session, trip=trip, auto=auto)


def record_provider_bill(session, *, trip, bill, order) -> None:
    service.record_provider_bill(session, trip=trip, bill=bill, order=order)


def record_cancellation_fee(session, *, trip, fee: CancellationFee, at) -> None:
    service.record_cancellation_fee(session, trip=trip, fee=fee, at=at)
