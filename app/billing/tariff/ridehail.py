"""Ride-hailing bills: the flag of a final fare well above its estimate (SPEC §5.3)."""

from __future__ import annotations

from decimal import Decimal

FLAG_OVER_ESTIMATE = "over_estimate"


def ridehail_flags(estimate: Decimal, final: Decimal, tolerance: Decimal = Decimal("0.20")) -> frozenset[str]:
    """Flags of a ride-hailing bill: over_estimate when final > estimate × (1 + tolerance)."""
    return frozenset({FLAG_OVER_ESTIMATE}) if final > estimate * (1 + tolerance) else frozenset()
