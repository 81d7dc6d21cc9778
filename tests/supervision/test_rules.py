"""The SPEC §6.1 rules at their edges, as pure functions (no database)."""
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from app import clock
from app.approvals.calendar import PrcCalendar
from app.supervision import rules
from app.supervision.rules import RunFacts

P = rules.DEFAULT_PARAMS
CAL = PrcCalendar()


def at(day: str, hhmmss: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{hhmmss}").replace(tzinfo=clock.SHANGHAI)


def run(*, start=("2026-12-01", "09:00:00"), end=("2026-12-01", "12:00:00"), km="40",
        depart=None, back=None, purpose="meeting", est="16.4", gap="0", platform=False) -> RunFacts:
    started, finished = at(*start), at(*end)
    return RunFacts(trip_id=1, unit_id=1, vehicle_id=1, purpose=purpose,
                    depart_at=at(*depart) if depart else started,
                    return_at=at(*back) if back else finished, started_at=started,
                    finished_at=finished, km=Decimal(km), odometer_gap_km=Decimal(gap),
                    est_km=Decimal(est) if est is not None else None,
                    platform_step=platform)


# 2026-12-01 is a Tuesday; 2026-12-05 a Saturday. 2026-01-04 (Sunday) and 2026-02-14
# (Saturday) are adjusted working days (调休) in the official 2026 calendar; 2026-10-01 a holiday.
@pytest.mark.parametrize("start,end,purpose,platform,fires", [
    (("2026-12-01", "09:00:00"), ("2026-12-01", "22:00:00"), "meeting", False, False),
    (("2026-12-01", "09:00:00"), ("2026-12-01", "22:00:01"), "meeting", False, True),
    (("2026-12-01", "06:00:00"), ("2026-12-01", "09:00:00"), "meeting", False, False),
    (("2026-12-01", "05:59:59"), ("2026-12-01", "09:00:00"), "meeting", False, True),
    (("2026-12-01", "23:00:00"), ("2026-12-02", "01:00:00"), "meeting", False, True),
    (("2026-12-01", "23:00:00"), ("2026-12-02", "01:00:00"), "emergency", False, False),
    (("2026-12-01", "23:00:00"), ("2026-12-02", "01:00:00"), "enforcement", False, False),
    (("2026-12-01", "23:00:00"), ("2026-12-02", "01:00:00"), "meeting", True, False),
    (("2026-12-05", "09:00:00"), ("2026-12-05", "12:00:00"), "meeting", False, True),
    (("2026-12-05", "09:00:00"), ("2026-12-05", "12:00:00"), "meeting", True, False),
    (("2026-02-14", "09:00:00"), ("2026-02-14", "12:00:00"), "meeting", False, False),
    (("2026-10-01", "09:00:00"), ("2026-10-01", "12:00:00"), "meeting", False, True),
    (("2026-12-04", "18:00:00"), ("2026-12-05", "00:00:00"), "meeting", False, True),
])
def test_off_hours(start, end, purpose, platform, fires):
    found = rules.off_hours(run(start=start, end=end, purpose=purpose, platform=platform),
                            P["off_hours"], CAL)
    assert (found is not None) is fires


def test_off_hours_names_the_rest_day_and_the_night():
    found = rules.off_hours(run(start=("2026-12-05", "21:00:00"), end=("2026-12-05", "23:00:00")),
                            P["off_hours"], CAL)
    assert found == {"night": True, "non_workdays": ["2026-12-05"]}


def test_an_adjusted_working_saturday_is_a_workday_also_by_the_admin_calendar():
    saturday = date(2026, 12, 12)
    facts = run(start=("2026-12-12", "09:00:00"), end=("2026-12-12", "12:00:00"))
    assert rules.off_hours(facts, P["off_hours"], CAL) is not None
    assert rules.off_hours(facts, P["off_hours"], PrcCalendar({saturday: "workday"})) is None


def test_off_hours_follows_its_parameters():
    facts = run(start=("2026-12-01", "09:00:00"), end=("2026-12-01", "21:30:00"))
    assert rules.off_hours(facts, {"night_start": "21:00", "night_end": "06:00"}, CAL)
    assert rules.off_hours(facts, P["off_hours"], CAL) is None


@pytest.mark.parametrize("start,end,fires,early,late", [
    ("08:00:00", "12:00:00", False, 0, 0),       # exactly 60 min early
    ("07:59:59", "12:00:00", True, 60, 0),        # one second more
    ("09:00:00", "14:00:00", False, 0, 0),        # exactly 120 min late
    ("09:00:00", "14:00:01", True, 0, 120),
    ("07:30:00", "15:00:00", True, 90, 180),
])
def test_outside_window(start, end, fires, early, late):
    found = rules.outside_window(run(start=("2026-12-01", start), end=("2026-12-01", end),
                                     depart=("2026-12-01", "09:00:00"),
                                     back=("2026-12-01", "12:00:00")), P["outside_window"])
    assert (found is not None) is fires
    if fires:
        assert found == {"early_minutes": early, "late_minutes": late}


@pytest.mark.parametrize("est,km,fires", [
    # ``est`` is the trip's full route estimate (out and back unless one-way)
    ("100", "130", False),     # exactly 30 % over does not fire
    ("100", "130.1", True),    # just over 30 % and 30.1 km more
    ("100", "120", False),     # 20 km more but only 20 % over
    ("50", "70", True),        # 40 % over and exactly 20 km more fires
    ("50", "69.9", False),     # 39.8 % over but 19.9 km more
    ("20", "39.9", False),     # 99.5 % over but 19.9 km more
    ("20", "40", True),
    (None, "500", False),      # no estimate, no finding
])
def test_distance_overrun(est, km, fires):
    found = rules.distance_overrun(run(est=est, km=km), P["distance_overrun"])
    assert (found is not None) is fires


def test_distance_overrun_reports_the_full_route():
    found = rules.distance_overrun(run(est="50", km="70"), P["distance_overrun"])
    assert found == {"km": "70", "estimate_km": "50", "extra_km": "20"}



@pytest.mark.parametrize("gap,fires", [("0", False), ("4.9", False), ("5", True), ("10", True)])
def test_odometer_gap(gap, fires):
    assert (rules.odometer_gap(run(gap=gap), P["odometer_gap"]) is not None) is fires


@pytest.mark.parametrize("start,end,km,fires", [
    (("2026-12-01", "09:00:00"), ("2026-12-01", "10:00:00"), "120", False),   # exactly 120 km/h
    (("2026-12-01", "09:00:00"), ("2026-12-01", "10:00:00"), "120.1", True),
    (("2026-12-01", "00:00:00"), ("2026-12-01", "23:59:00"), "1000", False),  # exactly 1000 a day
    (("2026-12-01", "00:00:00"), ("2026-12-01", "23:59:00"), "1000.1", True),  # over 1000 in a day at 41.7 km/h
    (("2026-12-01", "06:00:00"), ("2026-12-02", "06:00:00"), "1500", False),  # two days, 62.5 km/h
    (("2026-12-01", "00:00:00"), ("2026-12-01", "10:00:00"), "1100", True),
])
def test_implausible_run(start, end, km, fires):
    found = rules.implausible_run(run(start=start, end=end, km=km), P["implausible_run"])
    assert (found is not None) is fires


def test_more_than_a_thousand_km_in_one_day_at_legal_speed():
    params = {"max_speed_kmh": Decimal("120"), "max_day_km": Decimal("500")}
    found = rules.implausible_run(run(start=("2026-12-01", "06:00:00"),
                                      end=("2026-12-01", "11:00:00"), km="501"), params)
    assert found["too_far"] and not found["too_fast"]


def test_the_soft_speed_limit_sits_below_the_hard_one():
    from app.dispatch.run import MAX_SPEED_KMH
    assert Decimal(P["implausible_run"]["max_speed_kmh"]) < MAX_SPEED_KMH


def test_outside_window_sits_inside_the_hard_start_limit():
    from app.trips.models import EARLIEST_START
    assert timedelta(minutes=P["outside_window"]["early_minutes"]) < EARLIEST_START


@pytest.mark.parametrize("approved_after,now_after,fires", [
    (None, 24, False),            # exactly 24 h: not yet
    (None, 24.01, True),
    (23.9, 30, False),
    (24, 30, False),              # approved at the deadline
    (24.5, 30, True),             # approved late
])
def test_emergency_unapproved(approved_after, now_after, fires):
    submitted = at("2026-12-01", "09:00:00")
    approved = submitted + timedelta(hours=approved_after) if approved_after is not None else None
    found = rules.emergency_unapproved(submitted, approved, submitted + timedelta(hours=now_after),
                                       P["emergency_unapproved"])
    assert (found is not None) is fires


@pytest.mark.parametrize("total,ceiling,fires", [
    ("425.00", "425.00", False), ("425.01", "425.00", True), ("500.00", None, False)])
def test_over_ceiling_bill(total, ceiling, fires):
    found = rules.over_ceiling_bill(Decimal(total), Decimal(ceiling) if ceiling else None, {})
    assert (found is not None) is fires


@pytest.mark.parametrize("total,estimate,fires", [
    ("120.00", "100.00", False), ("120.01", "100.00", True), ("50.00", None, False)])
def test_fare_over_estimate(total, estimate, fires):
    found = rules.fare_over_estimate(Decimal(total), Decimal(estimate) if estimate else None,
                                     P["fare_over_estimate"])
    assert (found is not None) is fires
