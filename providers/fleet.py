"""The state fleet (公车平台) as a supply provider: in-house, no HTTP.

Prices come from a ``PriceEstimator`` the app passes in (``app.billing.service.paid_use_price``:
the billing engine with the tariff version in force, so a quote and the charge it becomes are
priced by one rule) and availability from an ``Availability`` callable over the
database (app/quotes/availability.py). Booking a fleet trip is the dispatch module's work:
``book`` and ``cancel`` only acknowledge, and dispatch tracks the order's progress.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Callable

from providers.base import (Cancellation, FeeLine, NotApplicable, Order, OrderRequest,
                            ProviderError, ProviderOffer, QuoteRequest, VehicleClass)


@dataclass(frozen=True)
class Candidate:
    """A pooled vehicle that could serve the trip, with a driver who could drive it."""

    vehicle_id: int
    plate: str
    vehicle_class: str
    seats: int
    nev: bool
    driver_id: int


Availability = Callable[[str, int, datetime, datetime], list[Candidate]]
PriceEstimator = Callable[[str, QuoteRequest], tuple[FeeLine, ...]]


class FleetProvider:
    channel = "fleet"
    takes_orders = False  # dispatched in-house: never booked, called back or polled

    def __init__(self, name: str = "fleet", *, availability: Availability,
                 price: PriceEstimator, lock_minutes: int = 30,
                 label: str = "公车平台", now: Callable[[], datetime] | None = None):
        self.name = name
        self.availability = availability
        self.price = price
        self.lock = timedelta(minutes=lock_minutes)
        self.label = label
        self.now = now or (lambda: datetime.now(timezone.utc))

    def quote(self, request: QuoteRequest) -> list[ProviderOffer]:
        offers = []
        for vehicle_class in request.vehicle_classes:
            candidates = self.availability(vehicle_class, request.passengers,
                                           request.depart_at, request.return_at)
            if not candidates:
                continue
            nev = [c for c in candidates if c.nev]
            best = nev[0] if nev else candidates[0]
            lines = self.price(vehicle_class, request)
            offers.append(ProviderOffer(
                provider=self.name, channel=self.channel,
                product=f"{self.label}·{VehicleClass(vehicle_class).label}",
                vehicle_class=vehicle_class, seats=best.seats, nev=best.nev,
                price=sum((line.amount for line in lines), Decimal("0.00")), breakdown=lines,
                expires_at=self.now() + self.lock,
                extra={"candidates": len(candidates), "nev_candidates": len(nev)}))
        if not offers:
            raise NotApplicable("该时段暂无可用公车")
        return offers

    def book(self, order_request: OrderRequest) -> Order:
        return Order(provider=self.name, order_id=order_request.out_order_id,
                     out_order_id=order_request.out_order_id, state="created")

    def cancel(self, order_id: str, reason: str) -> Cancellation:
        return Cancellation(order_id=order_id, fee=Decimal("0.00"))

    def status(self, order_id: str) -> Order:
        raise ProviderError("fleet orders are tracked by the dispatch module",
                            provider=self.name, code="not_tracked_here")

    def lookup(self, out_order_id: str) -> Order | None:
        raise ProviderError("fleet orders are tracked by the dispatch module",
                            provider=self.name, code="not_tracked_here")

    def verify_callback(self, payload, headers, body, *, nonce_store=None, now=None) -> None:
        raise ProviderError("the fleet sends no callbacks", provider=self.name,
                            code="not_tracked_here")

    def parse_callback(self, payload) -> Order:
        raise ProviderError("the fleet sends no callbacks", provider=self.name,
                            code="not_tracked_here")
