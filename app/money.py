"""Money is Decimal, in yuan, rounded to the cent half up: one rule for the columns and the engine."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def round_money(amount: Decimal) -> Decimal:
    """Round to the cent, half up, as every stored amount and every charge line is."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)
