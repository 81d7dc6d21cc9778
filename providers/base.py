"""The supply contract every provider adapter speaks, with normalised result objects.

A supply provider (the pooled fleet, a rental company, a ride-hailing company) answers
five calls: ``quote``, ``book``, ``cancel``, ``status`` and ``lookup`` (the order placed
under our own ``out_order_id``, for when the answer to ``book`` was lost). Results are
frozen dataclasses in our own vocabulary; anything provider-specific rides along in
``extra``. Money is ``Decimal`` CNY, times are aware UTC.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Mapping, Protocol

from providers.money import money

# Normalised order states, shared by every channel (providers map their own onto these).
ORDER_STATES = ("created", "assigned", "arrived", "in_trip", "completed", "paid", "cancelled")


class VehicleClass(enum.StrEnum):
    """Vehicle classes, smallest first, each with its Chinese label and the passengers it
    carries at most (SPEC §5). The app's models store these values."""

    label: str
    seats: int

    SEDAN = "sedan", "轿车", 4
    MPV = "mpv", "商务车", 6
    MINIBUS = "minibus", "中巴", 18
    BUS = "bus", "大巴", 45

    def __new__(cls, value: str, label: str, seats: int) -> VehicleClass:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        member.seats = seats
        return member


@dataclass(frozen=True)
class Stop:
    name: str
    lat: float
    lng: float


@dataclass(frozen=True)
class QuoteRequest:
    """The trip facts every provider quotes on."""

    trip_ref: str
    stops: tuple[Stop, ...]
    depart_at: datetime
    return_at: datetime
    passengers: int
    vehicle_class: str | None
    est_km: Decimal
    est_minutes: int
    cross_region: bool = False
    # The classes worth quoting (the policy decides: smallest fitting, plus the one asked for).
    vehicle_classes: tuple[str, ...] = ()

    @property
    def origin(self) -> Stop:
        return self.stops[0]

    @property
    def destination(self) -> Stop:
        return self.stops[-1]


@dataclass(frozen=True)
class FeeLine:
    kind: str
    description: str
    amount: Decimal

    def as_dict(self) -> dict:
        return {"kind": self.kind, "description": self.description, "amount": str(self.amount)}

    @classmethod
    def from_dict(cls, data: Mapping) -> "FeeLine":
        return cls(kind=data["kind"], description=data.get("description", ""),
                   amount=money(data["amount"]))


@dataclass(frozen=True)
class ProviderOffer:
    """One priced option; ``expires_at`` is its price lock."""

    provider: str
    channel: str
    product: str
    vehicle_class: str
    seats: int
    nev: bool
    price: Decimal
    breakdown: tuple[FeeLine, ...]
    expires_at: datetime
    available: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OrderRequest:
    """Place an order for a chosen offer; ``out_order_id`` makes retries safe."""

    out_order_id: str
    offer: ProviderOffer
    request: QuoteRequest
    contact_name: str
    contact_phone: str


@dataclass(frozen=True)
class Bill:
    """A provider's final fee breakdown; the total is the sum of its lines."""

    lines: tuple[FeeLine, ...]

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


@dataclass(frozen=True)
class Order:
    provider: str
    order_id: str
    out_order_id: str
    state: str
    plate: str | None = None
    driver_name: str | None = None
    driver_phone: str | None = None
    bill: Bill | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Cancellation:
    order_id: str
    fee: Decimal
    state: str = "cancelled"


class SupplyProvider(Protocol):
    """One supply channel's adapter. ``takes_orders`` is False for the pooled fleet, which
    is dispatched in-house: it quotes but is never booked, called back or polled."""

    name: str
    channel: str
    takes_orders: bool

    def quote(self, request: QuoteRequest) -> list[ProviderOffer]:
        """Offers for the trip; raises NotApplicable when this provider cannot serve it."""

    def book(self, order_request: OrderRequest) -> Order: ...

    def cancel(self, order_id: str, reason: str) -> Cancellation: ...

    def status(self, order_id: str) -> Order: ...

    def lookup(self, out_order_id: str) -> Order | None:
        """The order placed under our ``out_order_id``; None when the provider has none."""

    def verify_callback(self, payload: Mapping[str, Any], headers: Mapping[str, str],
                        body: bytes, *, nonce_store: Any = None,
                        now: float | None = None) -> None:
        """Check a callback's signature, time window and replay; raises SignatureError.
        ``payload`` is the parsed ``body``; each scheme checks what it signs (ride-hailing
        the payload's fields, our own protocol the Standard Webhooks headers and raw body)."""

    def parse_callback(self, payload: Mapping[str, Any]) -> Order:
        """The order a verified callback describes; KeyError/TypeError/ValueError if incomplete."""


class ProviderError(Exception):
    """The provider failed or refused; ``code`` is the provider's (or the HTTP status)."""

    def __init__(self, message: str, *, provider: str = "", code: int | str | None = None):
        super().__init__(message)
        self.provider = provider
        self.code = code


class ProviderTimeout(ProviderError):
    """No answer within the connect or read timeout."""


class MalformedResponse(ProviderError):
    """The answer was not the JSON envelope the provider promises."""


class SignatureError(ProviderError):
    """A signature was missing, wrong, stale or replayed."""


class NotApplicable(Exception):
    """The provider does not serve this trip (e.g. too many passengers for ride-hailing).

    The message is for people (Chinese): it is shown beside the provider's status.
    """
