"""Statement lines as plain data: what exports and reconciliation read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from app.billing.tariff import FLAG_OVER_CEILING, FLAG_OVER_ESTIMATE
from app.money import CENT

CHANNEL_LABELS = {"fleet": "公车平台", "rental": "社会租赁", "ridehail": "网约车",
                  "partner": "合作城市"}
FLAG_LABELS = {
    FLAG_OVER_CEILING: "超出协议上限",
    FLAG_OVER_ESTIMATE: "超出预估20%以上",
    "disputed": "有争议",
    "adjustment": "调整",
    "auto_confirmed": "超时自动确认",
}


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One confirmed charge on a monthly statement (结算单明细)."""

    order_id: str
    trip_id: str | int
    date: date
    unit_name: str
    supplier: str
    channel: str
    description: str
    amount: Decimal
    flags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Totals must equal the sum of what people see, so a line is whole cents already.
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite():
            raise TypeError(f"amount of order {self.order_id} must be a finite Decimal")
        if self.amount != self.amount.quantize(CENT):
            raise ValueError(f"amount of order {self.order_id} has more than two decimals: {self.amount}")

    @property
    def channel_label(self) -> str:
        return CHANNEL_LABELS.get(self.channel, self.channel)

    @property
    def flags_label(self) -> str:
        return "；".join(FLAG_LABELS.get(flag, flag) for flag in self.flags)


def as_statement_line(item: StatementLine | Mapping) -> StatementLine:
    """Accept a StatementLine or a dict with the same keys."""
    if isinstance(item, StatementLine):
        return item
    return StatementLine(**{**item, "flags": tuple(item.get("flags", ()))})
