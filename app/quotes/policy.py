"""Official-use policy for quotes (用车标准), as data and pure functions.

Which vehicle class fits how many passengers, which ride-hailing tiers are allowed, the
rental lead time and the framework-agreement ceiling (SPEC §5.2), and the ranking of
offers (SPEC §2 step 3). Nothing here touches the database or the clock: callers pass
``now`` and plain facts, so every rule is tested table-driven.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Sequence

from app.accounts.models import VehicleClass
from app.billing.tariff import DEFAULT_RENTAL_AGREEMENT, RentalAgreement
from app.billing.tariff import rental_ceiling as tariff_rental_ceiling


@dataclass(frozen=True)
class QuotePolicy:
    # Classes from smallest to largest with the passengers each may carry.
    capacity: dict[str, int] = field(default_factory=lambda: {
        c.value: c.seats for c in VehicleClass})
    ridehail_tiers: frozenset[str] = frozenset({"economy", "comfort"})
    rental_min_lead: timedelta = timedelta(hours=2)
    rental_max_lead: timedelta = timedelta(days=30)
    # The framework agreement whose ceiling every rental quote must respect (SPEC §5.2).
    agreement: RentalAgreement = DEFAULT_RENTAL_AGREEMENT


DEFAULT_POLICY = QuotePolicy()


@dataclass(frozen=True)
class QuotedTrip:
    """What the rules need to know about the trip."""

    passengers: int
    requested_class: str | None
    depart_at: datetime
    return_at: datetime
    est_km: Decimal


@dataclass(frozen=True)
class OfferFacts:
    """What the rules need to know about an offer; ``rank_key`` orders them."""

    channel: str
    vehicle_class: str
    seats: int
    price: Decimal
    nev: bool
    available: bool = True
    tier: str | None = None
    compliant: bool = True
    reasons: tuple[str, ...] = ()


def smallest_class(passengers: int, policy: QuotePolicy = DEFAULT_POLICY) -> str | None:
    """The smallest class that carries ``passengers`` (None when none does)."""
    return next((c for c, cap in policy.capacity.items() if cap >= passengers), None)


def classes_to_quote(passengers: int, requested: str | None,
                     policy: QuotePolicy = DEFAULT_POLICY) -> tuple[str, ...]:
    """The smallest fitting class, and the requested one when it differs and fits."""
    wanted = [smallest_class(passengers, policy)]
    if requested and policy.capacity.get(requested, 0) >= passengers:
        wanted.append(requested)
    return tuple(dict.fromkeys(c for c in wanted if c))


def class_reasons(vehicle_class: str, seats: int, trip: QuotedTrip,
                  policy: QuotePolicy = DEFAULT_POLICY) -> list[str]:
    """Too small, or bigger than needed without being the class asked for."""
    if min(seats, policy.capacity.get(vehicle_class, 0)) < trip.passengers:
        return [f"座位不足：{trip.passengers}人乘车"]
    fitting = smallest_class(trip.passengers, policy)
    order = list(policy.capacity)
    if (vehicle_class != trip.requested_class and fitting is not None
            and order.index(vehicle_class) > order.index(fitting)):
        return [f"超出用车标准：{trip.passengers}人应使用{VehicleClass(fitting).label}"]
    return []


def ridehail_reasons(tier: str | None, policy: QuotePolicy = DEFAULT_POLICY) -> list[str]:
    if tier in policy.ridehail_tiers:
        return []
    return ["公务出行网约车仅限经济型、舒适型"]


def lead_time_reasons(depart_at: datetime, now: datetime,
                      policy: QuotePolicy = DEFAULT_POLICY) -> list[str]:
    lead = depart_at - now
    if lead < policy.rental_min_lead:
        return ["租赁用车须至少提前2小时预订"]
    if lead > policy.rental_max_lead:
        return ["租赁用车最多提前30天预订"]
    return []


def rental_ceiling(vehicle_class: str, start: datetime, end: datetime, km: Decimal, *,
                   discounted: bool = True, policy: QuotePolicy = DEFAULT_POLICY) -> Decimal:
    """The agreement ceiling for a trip, by the billing engine's rule (SPEC §5.2);
    ``discounted=False`` gives the market reference."""
    return tariff_rental_ceiling(policy.agreement, vehicle_class, start, end, km,
                                 discounted=discounted)


def rental_reasons(offer: OfferFacts, trip: QuotedTrip, now: datetime,
                   policy: QuotePolicy = DEFAULT_POLICY) -> list[str]:
    reasons = lead_time_reasons(trip.depart_at, now, policy)
    ceiling = rental_ceiling(offer.vehicle_class, trip.depart_at, trip.return_at, trip.est_km,
                             policy=policy)
    if offer.price > ceiling:
        reasons.append(f"报价高于协议限价{ceiling}元")
    return reasons


def assess(offer: OfferFacts, trip: QuotedTrip, now: datetime,
           policy: QuotePolicy = DEFAULT_POLICY) -> OfferFacts:
    """The offer with ``compliant`` and its ``reasons`` (Chinese, for the traveller)."""
    reasons = class_reasons(offer.vehicle_class, offer.seats, trip, policy)
    if offer.channel == "ridehail":
        reasons += ridehail_reasons(offer.tier, policy)
    elif offer.channel == "rental":
        reasons += rental_reasons(offer, trip, now, policy)
    return replace(offer, compliant=not reasons, reasons=tuple(reasons))


def rank_key(offer: OfferFacts) -> tuple:
    """Compliant and available first, then cheaper, then NEV, then the pooled fleet."""
    return (not (offer.compliant and offer.available), offer.price, not offer.nev,
            offer.channel != "fleet")


def rank(offers: Sequence[OfferFacts]) -> list[int]:
    """Indexes of ``offers`` best first (stable for equal keys)."""
    return sorted(range(len(offers)), key=lambda i: rank_key(offers[i]))


def recommended(offers: Sequence[OfferFacts]) -> int | None:
    """Index of the offer to recommend: the top-ranked one, if it is compliant and available."""
    order = rank(offers)
    if order and offers[order[0]].compliant and offers[order[0]].available:
        return order[0]
    return None
