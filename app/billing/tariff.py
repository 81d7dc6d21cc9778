"""Tariffs as data and the pure charge engine (SPEC §5.1–5.4)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, TypeVar

from app.accounts.models import VehicleClass
from app.clock import SHANGHAI
from app.money import CENT, round_money
from providers.base import FeeLine

# Rules about calendar days are about local days (SPEC §5): SHANGHAI is app.clock's.
ZERO = Decimal("0")
HOUR = timedelta(hours=1)
DAY = timedelta(hours=24)

VEHICLE_CLASSES = tuple(c.value for c in VehicleClass)

FLAG_OVER_CEILING = "over_ceiling"
FLAG_OVER_ESTIMATE = "over_estimate"

# A date before any trip the platform will ever bill, so the defaults are always in force.
DEFAULT_EFFECTIVE_FROM = date(2000, 1, 1)


class TariffError(ValueError):
    """A tariff given as data is malformed; the message is for the admin, in Chinese."""


# --- tariff data -------------------------------------------------------------


@dataclass(frozen=True)
class TimeBlock:
    """An in-city block: a trip lasting at most `hours` costs `price`."""

    hours: int
    price: Decimal


@dataclass(frozen=True)
class KmBand:
    """A progressive band: km up to `up_to_km` (None = open-ended) at `rate` per km."""

    up_to_km: int | None
    rate: Decimal


@dataclass(frozen=True)
class FleetClassRates:
    """Paid-use rates of one vehicle class."""

    time_blocks: tuple[TimeBlock, ...]
    extra_hour: Decimal
    km_bands: tuple[KmBand, ...]


@dataclass(frozen=True)
class FleetTariff:
    """The pooled fleet's paid-use tariff (有偿使用收费标准), one version."""

    effective_from: date
    classes: Mapping[str, FleetClassRates]
    min_billed_km: int = 60
    free_waiting_minutes: int = 30
    waiting_step_minutes: int = 30
    waiting_step_km: int = 5
    meal_allowance_per_day: Decimal = Decimal("100.00")

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", MappingProxyType(dict(self.classes)))

    def to_dict(self) -> dict[str, Any]:
        """Serialise to JSON-able data (money and rates as strings)."""
        return {
            "effective_from": self.effective_from.isoformat(),
            "classes": {
                name: {
                    "time_blocks": [{"hours": b.hours, "price": str(b.price)} for b in r.time_blocks],
                    "extra_hour": str(r.extra_hour),
                    "km_bands": [{"up_to_km": b.up_to_km, "rate": str(b.rate)} for b in r.km_bands],
                }
                for name, r in self.classes.items()
            },
            "min_billed_km": self.min_billed_km,
            "free_waiting_minutes": self.free_waiting_minutes,
            "waiting_step_minutes": self.waiting_step_minutes,
            "waiting_step_km": self.waiting_step_km,
            "meal_allowance_per_day": str(self.meal_allowance_per_day),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FleetTariff:
        """Build and validate a tariff from `to_dict` data; raise TariffError."""
        classes = {}
        for name, raw in _classes(data).items():
            path = f"classes.{name}"
            blocks = tuple(
                TimeBlock(_int(b, "hours", where), _money(b, "price", where))
                for i, b in enumerate(_list(raw, "time_blocks", path))
                for where in [f"{path}.time_blocks[{i}]"]
            )
            bands = tuple(
                KmBand(_int(b, "up_to_km", where, optional=True), _money(b, "rate", where))
                for i, b in enumerate(_list(raw, "km_bands", path))
                for where in [f"{path}.km_bands[{i}]"]
            )
            _check_ascending([b.hours for b in blocks], f"{path}.time_blocks", "hours")
            _check_bands(bands, f"{path}.km_bands")
            classes[name] = FleetClassRates(blocks, _money(raw, "extra_hour", path), bands)
        return cls(
            effective_from=_date(data, "effective_from"),
            classes=classes,
            min_billed_km=_int(data, "min_billed_km", ""),
            free_waiting_minutes=_int(data, "free_waiting_minutes", ""),
            waiting_step_minutes=_int(data, "waiting_step_minutes", "", positive=True),
            waiting_step_km=_int(data, "waiting_step_km", ""),
            meal_allowance_per_day=_money(data, "meal_allowance_per_day", ""),
        )


@dataclass(frozen=True)
class RentalClassRates:
    """Framework-agreement ceiling of one vehicle class: per day or per km."""

    day_rate: Decimal
    km_rate: Decimal


@dataclass(frozen=True)
class RentalAgreement:
    """A rental company's framework agreement (框架协议) ceiling, one version."""

    effective_from: date
    classes: Mapping[str, RentalClassRates]
    discount: Decimal = Decimal("0.15")
    half_day_max_hours: int = 4
    half_day_max_km: int = 50
    km_per_day: int = 100
    min_lead_hours: int = 2
    max_lead_days: int = 30

    def __post_init__(self) -> None:
        object.__setattr__(self, "classes", MappingProxyType(dict(self.classes)))

    def to_dict(self) -> dict[str, Any]:
        """Serialise to JSON-able data (money and rates as strings)."""
        return {
            "effective_from": self.effective_from.isoformat(),
            "classes": {
                name: {"day_rate": str(r.day_rate), "km_rate": str(r.km_rate)} for name, r in self.classes.items()
            },
            "discount": str(self.discount),
            "half_day_max_hours": self.half_day_max_hours,
            "half_day_max_km": self.half_day_max_km,
            "km_per_day": self.km_per_day,
            "min_lead_hours": self.min_lead_hours,
            "max_lead_days": self.max_lead_days,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RentalAgreement:
        """Build and validate an agreement from `to_dict` data; raise TariffError."""
        classes = {
            name: RentalClassRates(
                _money(raw, "day_rate", f"classes.{name}"), _money(raw, "km_rate", f"classes.{name}")
            )
            for name, raw in _classes(data).items()
        }
        discount = _money(data, "discount", "")
        if discount >= 1:
            raise TariffError("discount 必须小于 1（例如 0.15 表示 15%）")
        return cls(
            effective_from=_date(data, "effective_from"),
            classes=classes,
            discount=discount,
            half_day_max_hours=_int(data, "half_day_max_hours", ""),
            half_day_max_km=_int(data, "half_day_max_km", ""),
            km_per_day=_int(data, "km_per_day", ""),
            min_lead_hours=_int(data, "min_lead_hours", ""),
            max_lead_days=_int(data, "max_lead_days", ""),
        )


def _fleet_class(blocks: tuple[int, int, int], extra_hour: int, rates: tuple[str, str, str, str]) -> FleetClassRates:
    return FleetClassRates(
        time_blocks=tuple(TimeBlock(h, Decimal(p)) for h, p in zip((2, 4, 8), blocks, strict=True)),
        extra_hour=Decimal(extra_hour),
        km_bands=tuple(KmBand(up, Decimal(r)) for up, r in zip((100, 200, 400, None), rates, strict=True)),
    )


DEFAULT_FLEET_TARIFF = FleetTariff(
    effective_from=DEFAULT_EFFECTIVE_FROM,
    classes={
        "sedan": _fleet_class((30, 60, 120), 20, ("1.1", "1.3", "1.5", "1.7")),
        "mpv": _fleet_class((50, 100, 200), 30, ("1.5", "1.7", "1.9", "2.1")),
        "minibus": _fleet_class((100, 200, 400), 50, ("2.0", "2.5", "4.0", "5.0")),
        "bus": _fleet_class((150, 300, 600), 80, ("3.0", "3.5", "5.0", "6.0")),
    },
)

DEFAULT_RENTAL_AGREEMENT = RentalAgreement(
    effective_from=DEFAULT_EFFECTIVE_FROM,
    classes={
        "sedan": RentalClassRates(Decimal("500"), Decimal("5.0")),
        "mpv": RentalClassRates(Decimal("600"), Decimal("5.9")),
        "minibus": RentalClassRates(Decimal("900"), Decimal("8.0")),
        "bus": RentalClassRates(Decimal("1400"), Decimal("12.0")),
    },
)

Versioned = TypeVar("Versioned", FleetTariff, RentalAgreement)


def version_in_force(versions: Iterable[Versioned], at: datetime) -> Versioned:
    """Return the version in force at `at`: the latest effective_from on or before its local day."""
    day = _require_aware(at, "at").astimezone(SHANGHAI).date()
    candidates = [v for v in versions if v.effective_from <= day]
    if not candidates:
        raise LookupError(f"no tariff version in force on {day.isoformat()}")
    return max(candidates, key=lambda v: v.effective_from)


# --- trip facts and charges --------------------------------------------------


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
        _check_period(self.started_at, self.finished_at)
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


def fleet_charge(tariff: FleetTariff, facts: ChargeableRun) -> Charge:
    """Charge a pooled-fleet trip by the paid-use tariff (SPEC §5.1)."""
    rates = _rates(tariff.classes, facts.vehicle_class)
    if facts.cross_region:
        lines = [_mileage_line(tariff, rates, facts), _meal_line(tariff, facts)]
    else:
        lines = _time_lines(rates, facts.finished_at - facts.started_at)
    lines += [
        ChargeLine(kind, label, round_money(amount))
        for kind, label, amount in (
            ("toll", "通行费（实报实销）", facts.tolls),
            ("parking", "停车费（实报实销）", facts.parking),
            ("lodging", "驾驶员住宿费（实报实销）", facts.lodging),
        )
        if amount
    ]
    return Charge(tuple(lines))


def _time_lines(rates: FleetClassRates, duration: timedelta) -> list[ChargeLine]:
    for block in rates.time_blocks:
        if duration <= block.hours * HOUR:
            return [ChargeLine("time_block", f"市内用车（{block.hours}小时以内）", round_money(block.price))]
    longest = rates.time_blocks[-1]
    extra_hours = _started_periods(duration - longest.hours * HOUR, HOUR)
    return [
        ChargeLine("time_block", f"市内用车（{longest.hours}小时以内）", round_money(longest.price)),
        ChargeLine(
            "overtime",
            f"超出{longest.hours}小时部分 {extra_hours} 小时 × {_fmt_money(rates.extra_hour)}",
            round_money(extra_hours * rates.extra_hour),
        ),
    ]


def waiting_km(tariff: FleetTariff, waiting_minutes: int) -> int:
    """Km added for waiting: each started step beyond the free minutes."""
    beyond = max(waiting_minutes - tariff.free_waiting_minutes, 0)
    return -(-beyond // tariff.waiting_step_minutes) * tariff.waiting_step_km


def _mileage_line(tariff: FleetTariff, rates: FleetClassRates, facts: ChargeableRun) -> ChargeLine:
    extra_km = waiting_km(tariff, facts.waiting_minutes)
    measured = facts.odometer_km + extra_km
    billed = max(measured, Decimal(tariff.min_billed_km))
    amount, parts = ZERO, []
    lower = 0
    for band in rates.km_bands:
        upper = billed if band.up_to_km is None else min(billed, Decimal(band.up_to_km))
        if upper <= lower:
            break
        amount += (upper - lower) * band.rate
        parts.append(f"{_fmt_km(upper - lower)}×{_fmt_money(band.rate)}")
        lower = band.up_to_km if band.up_to_km is not None else billed
    notes = []
    if extra_km:
        notes.append(f"含等候折算 {extra_km} 公里")
    if measured < billed:
        notes.append(f"不足 {tariff.min_billed_km} 公里按 {tariff.min_billed_km} 公里计")
    note = f"（{'，'.join(notes)}）" if notes else ""
    return ChargeLine("mileage", f"跨区域里程 {_fmt_km(billed)} 公里{note}：{' + '.join(parts)}", round_money(amount))


def meal_days(started_at: datetime, finished_at: datetime) -> int:
    """Asia/Shanghai calendar days a trip touches; ending exactly at midnight does not touch the new day."""
    _check_period(started_at, finished_at)
    first = started_at.astimezone(SHANGHAI).date()
    end = finished_at.astimezone(SHANGHAI)
    last = end.date()
    if finished_at > started_at and end.time() == datetime.min.time():
        last -= timedelta(days=1)
    return (last - first).days + 1


def _meal_line(tariff: FleetTariff, facts: ChargeableRun) -> ChargeLine:
    days = meal_days(facts.started_at, facts.finished_at)
    per_day = tariff.meal_allowance_per_day
    return ChargeLine("meal_allowance", f"驾驶员餐补 {days} 天 × {_fmt_money(per_day)}", round_money(days * per_day))


def rental_quote(agreement: RentalAgreement, facts: ChargeableRun, *, discounted: bool = True) -> Charge:
    """The agreement ceiling of a trip as a one-line charge (SPEC §5.2), e.g. for the preview."""
    rates = _rates(agreement.classes, facts.vehicle_class)
    duration = facts.finished_at - facts.started_at
    km = facts.odometer_km
    if duration <= agreement.half_day_max_hours * HOUR and km <= agreement.half_day_max_km:
        base, basis = rates.day_rate / 2, f"半天 × {_fmt_money(rates.day_rate)} ÷ 2"
    else:
        days = max(_started_periods(duration, DAY), 1)
        if km <= agreement.km_per_day * days:
            base, basis = days * rates.day_rate, f"{days} 天 × {_fmt_money(rates.day_rate)}"
        else:
            base, basis = km * rates.km_rate, f"{_fmt_km(km)} 公里 × {_fmt_money(rates.km_rate)}"
    if discounted:
        base *= 1 - agreement.discount
        basis += f"，协议折扣 {_fmt_percent(agreement.discount)}"
    label = VehicleClass(facts.vehicle_class).label
    return Charge((ChargeLine("rental", f"社会租赁{label}（含驾驶员）：{basis}", round_money(base)),))


def rental_ceiling(
    agreement: RentalAgreement,
    vehicle_class: str,
    started_at: datetime,
    finished_at: datetime,
    km: Decimal,
    discounted: bool = True,
) -> Decimal:
    """The most a rental company may charge for this trip under the agreement."""
    # The agreement prices every trip alike, in-city or not; ChargeableRun only validates the input.
    facts = ChargeableRun(vehicle_class, False, started_at, finished_at, km)
    return rental_quote(agreement, facts, discounted=discounted).total


def market_reference(agreement: RentalAgreement, facts: ChargeableRun) -> Decimal:
    """The undiscounted rental ceiling for the same trip: a fleet trip's market price (SPEC §5.4)."""
    return rental_ceiling(
        agreement, facts.vehicle_class, facts.started_at, facts.finished_at, facts.odometer_km, discounted=False
    )


def savings(reference: Decimal, charge: Decimal) -> Decimal:
    """What the fleet saved against the market; negative when it cost more."""
    return reference - charge


def rental_lead_time_ok(agreement: RentalAgreement, booked_at: datetime, starts_at: datetime) -> bool:
    """Whether a rental booking respects the agreement's minimum and maximum lead time."""
    lead = _require_aware(starts_at, "starts_at") - _require_aware(booked_at, "booked_at")
    return agreement.min_lead_hours * HOUR <= lead <= timedelta(days=agreement.max_lead_days)


def over_ceiling(quote_or_bill: Decimal, ceiling: Decimal) -> bool:
    """Whether a company's quote or bill exceeds our computed ceiling (SPEC §5.2)."""
    return quote_or_bill > ceiling


def ridehail_flags(estimate: Decimal, final: Decimal, tolerance: Decimal = Decimal("0.20")) -> frozenset[str]:
    """Flags of a ride-hailing bill: over_estimate when final > estimate × (1 + tolerance)."""
    return frozenset({FLAG_OVER_ESTIMATE}) if final > estimate * (1 + tolerance) else frozenset()


# --- helpers -----------------------------------------------------------------


def _started_periods(span: timedelta, period: timedelta) -> int:
    whole, rest = divmod(span, period)
    return whole + (1 if rest else 0)


def _rates(classes: Mapping[str, Any], vehicle_class: str) -> Any:
    try:
        return classes[vehicle_class]
    except KeyError:
        raise TariffError(f"收费标准中没有车型“{vehicle_class}”") from None


def _require_aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value


def _check_period(started_at: datetime, finished_at: datetime) -> None:
    _require_aware(started_at, "started_at")
    _require_aware(finished_at, "finished_at")
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


def _fmt_money(value: Decimal) -> str:
    return f"{round_money(value):f}"


def _fmt_km(value: Decimal | int) -> str:
    return f"{Decimal(value).normalize():f}"


def _fmt_percent(rate: Decimal) -> str:
    return f"{_fmt_km(rate * 100)}%"


def _where(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _get(data: Mapping[str, Any], key: str, path: str) -> Any:
    if not isinstance(data, Mapping):
        raise TariffError(f"{path or '收费标准'} 应为对象")
    if key not in data:
        raise TariffError(f"缺少字段 {_where(path, key)}")
    return data[key]


def _classes(data: Mapping[str, Any]) -> Mapping[str, Any]:
    classes = _get(data, "classes", "")
    if not isinstance(classes, Mapping):
        raise TariffError("classes 应为对象")
    missing = [c for c in VEHICLE_CLASSES if c not in classes]
    unknown = [c for c in classes if c not in VEHICLE_CLASSES]
    if missing or unknown:
        raise TariffError(f"车型不完整或未知：缺少 {missing}，未知 {unknown}")
    return classes


def _list(data: Mapping[str, Any], key: str, path: str) -> list[Any]:
    value = _get(data, key, path)
    if not isinstance(value, list) or not value:
        raise TariffError(f"{_where(path, key)} 应为非空列表")
    return value


def _money(data: Mapping[str, Any], key: str, path: str) -> Decimal:
    value = _get(data, key, path)
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise TariffError(f'{_where(path, key)} 应为数字字符串，例如 "1.10"')
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise TariffError(f"{_where(path, key)} 不是有效数字：{value!r}") from None
    if not number.is_finite() or number < 0:
        raise TariffError(f"{_where(path, key)} 不能为负数")
    return number


def _int(data: Mapping[str, Any], key: str, path: str, *, optional: bool = False, positive: bool = False) -> Any:
    value = _get(data, key, path)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < (1 if positive else 0):
        raise TariffError(f"{_where(path, key)} 应为{'正' if positive else '非负'}整数")
    return value


def _date(data: Mapping[str, Any], key: str) -> date:
    value = _get(data, key, "")
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise TariffError(f'{key} 应为日期，例如 "2026-01-01"') from None


def _check_ascending(values: list[int], path: str, key: str) -> None:
    if any(b <= a for a, b in zip(values, values[1:], strict=False)):
        raise TariffError(f"{path} 的 {key} 必须严格递增")


def _check_bands(bands: tuple[KmBand, ...], path: str) -> None:
    if bands[-1].up_to_km is not None:
        raise TariffError(f"{path} 的最后一档 up_to_km 必须为 null（不设上限）")
    if any(b.up_to_km is None for b in bands[:-1]):
        raise TariffError(f"{path} 只有最后一档可以不设上限")
    _check_ascending([b.up_to_km for b in bands[:-1]], path, "up_to_km")
