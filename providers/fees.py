"""Provider fee items as our fee lines, summing exactly to the provider's total.

A provider names its fee items its own way (DiDi ``start_price``, ``normal_fee``,
``highway_fee`` …). A mapping (configuration) says which of our kinds each one is; items of
the same kind add up; whatever is left of the provider's total after the mapped items — fee
items we do not know, discounts, rounding — is one ``other`` line, so nothing is dropped
and the lines always sum to the total the provider charges.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Mapping

from providers.base import FeeLine

# Our fee kinds, in the order lines are shown, with their labels.
FEE_LABELS = {"base": "起步价", "distance": "里程费", "time": "时长费", "tolls": "通行费",
              "parking": "停车费", "other": "其他费用"}


def map_fee_lines(items: Mapping[str, Decimal], kinds: Mapping[str, str], *,
                  total: Decimal | None = None) -> tuple[FeeLine, ...]:
    """``items`` (provider name → Decimal yuan) as our lines in a fixed order, zero extras
    left out (``base`` always shown). ``kinds`` maps a provider name to one of our kinds;
    unmapped items go to ``other``. With ``total``, ``other`` is the remainder that makes
    the lines sum to it exactly."""
    sums: dict[str, Decimal] = {}
    for name, amount in items.items():
        kind = kinds.get(name, "other")
        if kind not in FEE_LABELS:
            raise ValueError(f"fee item {name!r} mapped to unknown kind {kind!r}")
        sums[kind] = sums.get(kind, Decimal("0.00")) + amount
    if total is not None:
        known = sum((v for k, v in sums.items() if k != "other"), Decimal("0.00"))
        sums["other"] = total - known
    return tuple(FeeLine(kind, label, sums[kind]) for kind, label in FEE_LABELS.items()
                 if kind in sums and (kind == "base" or sums[kind]))


def unmapped(items: Mapping[str, object], kinds: Mapping[str, str]) -> list[str]:
    """The provider's item names that have no kind of ours (they went to ``other``)."""
    return sorted(name for name in items if name not in kinds)
