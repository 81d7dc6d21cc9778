"""Money is Decimal CNY, rounded to the cent half up: the one rule for providers and the app.

Providers may not import the app, so the app's columns, schemas and billing engine take
their rounding from here (through ``app.money``).
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")


def round_money(amount: Decimal) -> Decimal:
    """Round to the cent, half up, as every stored amount and every charge line is."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Any) -> Decimal:
    """An amount given as Decimal, int or string, as Decimal CNY rounded to the cent;
    floats are refused."""
    if isinstance(value, float):
        raise TypeError("money must be Decimal, not float")
    return round_money(Decimal(str(value)))
