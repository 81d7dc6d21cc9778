"""The engine's input, a chargeable run, and its output, a charge made of lines; the
arithmetic and wording the fleet and rental rules share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Mapping

from app.billing.tariff.data import VEHICLE_CLASSES, TariffError, require_aware
from app.money import round_money
from providers.base import FeeLine

ZERO = Decimal("0")
HOUR = timedelta(hours=1)
DAY = timedelta(hours=24)


@dataclass(frozen=True)
class ChargeableRun:
    """What a trip measured (or is estimated to measure): the input of every charge rule."""

    vehicle_class: str
    cross_region: bool
    started_at: datetime
    finished_at: datetime
    odometer_km: Decimal
    waiting_minutes: int = 0
    tolls: Decimal = ZERO
    parking: Decimal = ZERO
    lodging: Decimal = ZERO

    def __post_init__(self) -> None:
        if self.vehicle_class not in VEHICLE_CLASSES:
            raise ValueError(f"unknown vehicle class {self.vehicle_class!r}")
        check_period(self.started_at, self.finished_at)
        for name in ("odometer_km", "tolls", "parking", "lodging"):
            object.__setattr__(self, name, _non_negative_decimal(getattr(self, name), name))
        if isinstance(self.waiting_minutes, bool) or not isinstance(self.waiting_minutes, int):
            raise TypeError("waiting_minutes must be an int")
        if self.waiting_minutes < 0:
            raise ValueError("waiting_minutes must not be negative")


# One line of a charge (`description` is shown to people, in Chinese): the same value a
# provider's bill or quote breakdown is made of.
ChargeLine = FeeLine


@dataclass(frozen=True)
class Charge:
    """A charge: its total is always the sum of its lines."""

    lines: tuple[ChargeLine, ...] = field(default_factory=tuple)

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)


def started_periods(span: timedelta, period: timedelta) -> int:
    whole, rest = divmod(span, period)
    return whole + (1 if rest else 0)


def class_rates(classes: Mapping[str, Any], vehicle_class: str) -> Any:
    try:
        return classes[vehicle_class]
    except KeyError:
        raise TariffError(f"收费标准中没有车型“{vehicle_class}”") from None


def check_period(started_at: datetime, finished_at: datetime) -> None:
    require_aware(started_at, "started_at")
    require_aware(finished_at, "finished_at")
    if finished_at < started_at:
        raise ValueError("finished_at is before started_at")


def _non_negative_decimal(value: Any, name: str) -> Decimal:
    # Floats would smuggle binary rounding into money; refuse them outright.
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise TypeError(f"{name} must be a Decimal, got {type(value).__name__}")
    value = Decimal(value)
    if not value.is_finite() or value < 0:
        raise ValueError(f"{name} must be a finite non-negative number")
    return value


def fmt_money(value: Decimal) -> str:
    return f"{round_money(value):f}"


def fmt_km(value: Decimal | int) -> str:
    return f"{Decimal(value).normalize():f}"


def fmt_percent(rate: Decimal) -> str:
    return f"{fmt_km(rate * 100)}%"
