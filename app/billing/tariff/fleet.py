"""The pooled fleet's paid use (有偿使用): time blocks in-city, progressive km bands and the
driver's meal allowance across regions, expenses passed through (SPEC §5.1)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from app.billing.tariff.charge import (HOUR, ZERO, Charge, ChargeableRun, ChargeLine,
                                       check_period, class_rates, fmt_km, fmt_money,
                                       started_periods)
from app.billing.tariff.data import FleetClassRates, FleetTariff
from app.clock import SHANGHAI
from app.money import round_money


def fleet_charge(tariff: FleetTariff, facts: ChargeableRun) -> Charge:
    """Charge a pooled-fleet trip by the paid-use tariff (SPEC §5.1)."""
    rates = class_rates(tariff.classes, facts.vehicle_class)
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
    extra_hours = started_periods(duration - longest.hours * HOUR, HOUR)
    return [
        ChargeLine("time_block", f"市内用车（{longest.hours}小时以内）", round_money(longest.price)),
        ChargeLine(
            "overtime",
            f"超出{longest.hours}小时部分 {extra_hours} 小时 × {fmt_money(rates.extra_hour)}",
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
        parts.append(f"{fmt_km(upper - lower)}×{fmt_money(band.rate)}")
        lower = band.up_to_km if band.up_to_km is not None else billed
    notes = []
    if extra_km:
        notes.append(f"含等候折算 {extra_km} 公里")
    if measured < billed:
        notes.append(f"不足 {tariff.min_billed_km} 公里按 {tariff.min_billed_km} 公里计")
    note = f"（{'，'.join(notes)}）" if notes else ""
    return ChargeLine("mileage", f"跨区域里程 {fmt_km(billed)} 公里{note}：{' + '.join(parts)}", round_money(amount))


def meal_days(started_at: datetime, finished_at: datetime) -> int:
    """Asia/Shanghai calendar days a trip touches; ending exactly at midnight does not touch the new day."""
    check_period(started_at, finished_at)
    first = started_at.astimezone(SHANGHAI).date()
    end = finished_at.astimezone(SHANGHAI)
    last = end.date()
    if finished_at > started_at and end.time() == datetime.min.time():
        last -= timedelta(days=1)
    return (last - first).days + 1


def _meal_line(tariff: FleetTariff, facts: ChargeableRun) -> ChargeLine:
    days = meal_days(facts.started_at, facts.finished_at)
    per_day = tariff.meal_allowance_per_day
    return ChargeLine("meal_allowance", f"驾驶员餐补 {days} 天 × {fmt_money(per_day)}", round_money(days * per_day))
