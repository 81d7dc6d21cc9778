"""Rental companies under the framework agreement (框架协议): the ceiling of a trip, the
market reference and savings it gives, lead times and the over-ceiling flag (SPEC §5.2, §5.4)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from app.accounts.models import VehicleClass
from app.billing.tariff.charge import (DAY, HOUR, Charge, ChargeableRun, ChargeLine, class_rates,
                                       fmt_km, fmt_money, fmt_percent, started_periods)
from app.billing.tariff.data import RentalAgreement, require_aware
from app.money import round_money

FLAG_OVER_CEILING = "over_ceiling"


def rental_quote(agreement: RentalAgreement, facts: ChargeableRun, *, discounted: bool = True) -> Charge:
    """The agreement ceiling of a trip as a one-line charge (SPEC §5.2), e.g. for the preview."""
    rates = class_rates(agreement.classes, facts.vehicle_class)
    duration = facts.finished_at - facts.started_at
    km = facts.odometer_km
    if duration <= agreement.half_day_max_hours * HOUR and km <= agreement.half_day_max_km:
        base, basis = rates.day_rate / 2, f"半天 × {fmt_money(rates.day_rate)} ÷ 2"
    else:
        days = max(started_periods(duration, DAY), 1)
        if km <= agreement.km_per_day * days:
            base, basis = days * rates.day_rate, f"{days} 天 × {fmt_money(rates.day_rate)}"
        else:
            base, basis = km * rates.km_rate, f"{fmt_km(km)} 公里 × {fmt_money(rates.km_rate)}"
    if discounted:
        base *= 1 - agreement.discount
        basis += f"，协议折扣 {fmt_percent(agreement.discount)}"
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
    lead = require_aware(starts_at, "starts_at") - require_aware(booked_at, "booked_at")
    return agreement.min_lead_hours * HOUR <= lead <= timedelta(days=agreement.max_lead_days)


def over_ceiling(quote_or_bill: Decimal, ceiling: Decimal) -> bool:
    """Whether a company's quote or bill exceeds our computed ceiling (SPEC §5.2)."""
    return quote_or_bill > ceiling
