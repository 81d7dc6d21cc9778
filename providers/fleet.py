"""The state fleet (公车平台) as a supply provider: in-house, no HTTP.

Prices come from a ``PriceEstimator`` (by default ``paid_use_estimate``, the paid-use
tariff of SPEC §5.1 applied to the trip's estimated duration and km; the billing engine
can be passed in instead) and availability from an ``Availability`` callable over the
database (app/quotes/availability.py). Booking a fleet trip is the dispatch module's work:
``book`` and ``cancel`` only acknowledge, and dispatch tracks the order's progress.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Callable
from zoneinfo import ZoneInfo

from providers.base import (CENT, Cancellation, FeeLine, NotApplicable, Offer, Order, OrderRequest,
                            ProviderError, QuoteRequest)

SHANGHAI = ZoneInfo("Asia/Shanghai")
CLASS_LABELS = {"sedan": "轿车", "mpv": "商务车", "minibus": "中型客车", "bus": "大型客车"}

# class -> (≤2 h, ≤4 h, ≤8 h, each started hour beyond 8 h), in-city paid use.
TIME_BLOCKS = {
    "sedan": (30, 60, 120, 20), "mpv": (50, 100, 200, 30),
    "minibus": (100, 200, 400, 50), "bus": (150, 300, 600, 80),
}
# Cross-region per-km bands: (band upper km, rate); the last band is open.
KM_BANDS = {
    "sedan": ((100, "1.1"), (200, "1.3"), (400, "1.5"), (None, "1.7")),
    "mpv": ((100, "1.5"), (200, "1.7"), (400, "1.9"), (None, "2.1")),
    "minibus": ((100, "2.0"), (200, "2.5"), (400, "4.0"), (None, "5.0")),
    "bus": ((100, "3.0"), (200, "3.5"), (400, "5.0"), (None, "6.0")),
}
MIN_BILLED_KM = Decimal("60")
MEAL_ALLOWANCE_PER_DAY = Decimal("100.00")


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


def paid_use_estimate(vehicle_class: str, request: QuoteRequest) -> tuple[FeeLine, ...]:
    """Estimated paid-use charge (有偿使用) per SPEC §5.1, before tolls and parking."""
    if not request.cross_region:
        hours = (request.return_at - request.depart_at).total_seconds() / 3600
        two, four, eight, per_hour = TIME_BLOCKS[vehicle_class]
        if hours <= 8:
            block = two if hours <= 2 else four if hours <= 4 else eight
            return (FeeLine("time_block", f"{CLASS_LABELS[vehicle_class]}包段计时",
                            Decimal(block).quantize(CENT)),)
        beyond = math.ceil(hours - 8)
        return (FeeLine("time_block", "8小时包段", Decimal(eight).quantize(CENT)),
                FeeLine("overtime", f"超时{beyond}小时", Decimal(per_hour * beyond).quantize(CENT)))
    billed = max(request.est_km, MIN_BILLED_KM)
    distance, lower = Decimal("0"), Decimal("0")
    for upper, rate in KM_BANDS[vehicle_class]:
        top = billed if upper is None else min(billed, Decimal(upper))
        if top > lower:
            distance += (top - lower) * Decimal(rate)
        lower = top if upper is None else Decimal(upper)
    first = request.depart_at.astimezone(SHANGHAI).date()
    last = request.return_at.astimezone(SHANGHAI).date()
    days = (last - first).days + 1
    return (FeeLine("distance", f"跨区域计程{billed}公里", distance.quantize(CENT)),
            FeeLine("meal_allowance", f"驾驶员误餐补助{days}天",
                    (MEAL_ALLOWANCE_PER_DAY * days).quantize(CENT)))


class FleetProvider:
    channel = "fleet"

    def __init__(self, name: str = "fleet", *, availability: Availability,
                 price: PriceEstimator = paid_use_estimate, lock_minutes: int = 30,
                 label: str = "公车平台", now: Callable[[], datetime] | None = None):
        self.name = name
        self.availability = availability
        self.price = price
        self.lock = timedelta(minutes=lock_minutes)
        self.label = label
        self.now = now or (lambda: datetime.now(timezone.utc))

    def quote(self, request: QuoteRequest) -> list[Offer]:
        offers = []
        for vehicle_class in request.vehicle_classes:
            candidates = self.availability(vehicle_class, request.passengers,
                                           request.depart_at, request.return_at)
            if not candidates:
                continue
            nev = [c for c in candidates if c.nev]
            best = nev[0] if nev else candidates[0]
            lines = self.price(vehicle_class, request)
            offers.append(Offer(
                provider=self.name, channel=self.channel,
                product=f"{self.label}·{CLASS_LABELS[vehicle_class]}",
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
