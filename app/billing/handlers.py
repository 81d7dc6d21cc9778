"""Billing's handlers of the trip lifecycle hooks (registered when this module is imported)."""
from __future__ import annotations

from app.billing import service
from app.dispatch import hooks
from app.trips.models import Channel


@hooks.on("trip_finished")
def price_finished_trip(session, trip, facts: hooks.FinishedRun) -> None:
    """A fleet trip finished: its provisional charge by the paid-use tariff."""
    if trip.channel in (None, Channel.FLEET):
        service.charge_fleet_trip(session, trip=trip, facts=facts)


@hooks.on("trip_confirmed")
def finalize_charge(session, trip, *, auto: bool) -> None:
    service.finalize(session, trip=trip, auto=auto)


@hooks.on("provider_bill")
def record_provider_bill(session, trip, *, bill, order) -> None:
    service.record_provider_bill(session, trip=trip, bill=bill, order=order)


@hooks.on("cancellation_fee")
def record_cancellation_fee(session, trip, fee: hooks.CancellationFee, *, at) -> None:
    service.record_cancellation_fee(session, trip=trip, fee=fee, at=at)
