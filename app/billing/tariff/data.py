"""The published tariffs as versioned data: the fleet's paid-use rates and the rental
framework agreement, their defaults (SPEC §5.1, §5.2) and their validation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, TypeVar

from app.accounts.models import VehicleClass
from app.clock import SHANGHAI

VEHICLE_CLASSES = tuple(c.value for c in VehicleClass)

# A date before any trip the platform will ever bill, so the defaults are always in force.
DEFAULT_EFFECTIVE_FROM = date(2000, 1, 1)


class TariffError(ValueError):
    """A tariff given as data is malformed; the message is for the admin, in Chinese."""


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
    day = require_aware(at, "at").astimezone(SHANGHAI).date()
    candidates = [v for v in versions if v.effective_from <= day]
    if not candidates:
        raise LookupError(f"no tariff version in force on {day.isoformat()}")
    return max(candidates, key=lambda v: v.effective_from)


# --- helpers -----------------------------------------------------------------


def require_aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value


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
