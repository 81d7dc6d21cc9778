"""The position rules at their edges, table-driven, without a database."""
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from app.positions import rules
from app.positions.rules import DEFAULT_PARAMS, Fix

T = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)
KM_LAT = 1 / 111.19  # degrees of latitude per km
# An east-west road from A to B (10 km) at 31.78° N; the corridor is 3 km either side.
A, B = (31.78, 119.90), (31.78, 119.90 + 10 / 94.65)


def north(km: float, minute: float, east_km: float = 5.0) -> Fix:
    """A fix ``km`` north of the road, ``east_km`` along it, at T + ``minute``."""
    return Fix(T + timedelta(minutes=minute), A[0] + km * KM_LAT, A[1] + east_km / 94.65)


@pytest.mark.parametrize("track, fires", [
    ([north(0, 0), north(3.5, 1), north(3.5, 11), north(0, 12)], True),     # 10 min out
    ([north(0, 0), north(3.5, 1), north(3.5, 10.9), north(0, 12)], False),  # 9.9 min out
    ([north(0, 0), north(2.95, 1), north(2.95, 30)], False),                 # inside 3 km
    ([north(3.5, 0), north(3.5, 6), north(1, 7), north(3.5, 8), north(3.5, 14)], False),
    ([north(3.5, 0), north(3.5, 20)], True),                                 # still out
    ([], False),
])
def test_route_deviation_needs_ten_minutes_outside_the_corridor(track, fires):
    facts = rules.route_deviation(track, [A, B], DEFAULT_PARAMS["route_deviation"])
    assert (facts is not None) == fires
    if fires:
        assert facts["minutes"] >= 10 and 3 < facts["max_km"] < 4


def test_route_deviation_measures_from_the_segments_not_only_the_stops():
    # 3.5 km north of the middle of a 10 km leg is 6 km from either stop, but a fix 2.5 km
    # north of the middle is inside although both stops are 5.6 km away
    inside = [north(2.5, m) for m in range(0, 30, 5)]
    assert rules.route_deviation(inside, [A, B], DEFAULT_PARAMS["route_deviation"]) is None


def test_the_corridor_returns_to_the_origin_unless_one_way_or_planned():
    stops = [{"lat": A[0], "lng": A[1]}, {"lat": B[0], "lng": B[1]}]
    assert rules.corridor_path(stops) == [A, B, A]
    assert rules.corridor_path(stops, one_way=True) == [A, B]
    planned = [(31.78, 119.90), (31.80, 119.95), B]
    assert rules.corridor_path(stops, planned_route=planned) == planned


def drive(km: float, start_minute: float = 0, *, steps: int = 20) -> list[Fix]:
    """Eastward fixes covering ``km`` in ``steps`` equal legs, one a minute."""
    return [Fix(T + timedelta(minutes=start_minute + i), A[0], A[1] + km * i / steps / 94.65)
            for i in range(steps + 1)]


@pytest.mark.parametrize("km, busy, fires", [
    (2.05, [], True),
    (1.9, [], False),
    (5.0, [(T - timedelta(hours=1), T + timedelta(hours=1))], False),   # assigned throughout
    (5.0, [(T, T + timedelta(minutes=10))], True),                      # half of it free
    (3.0, [(T, T + timedelta(minutes=10))], False),                     # 1.5 km free
])
def test_unassigned_movement_counts_only_kilometres_outside_assignments(km, busy, fires):
    facts = rules.unassigned_movement(drive(km), busy, DEFAULT_PARAMS["unassigned_movement"])
    assert (facts is not None) == fires


def test_a_parked_receivers_wander_is_no_movement():
    wander = [Fix(T + timedelta(seconds=10 * i), A[0] + (i % 3) * 0.0001, A[1])
              for i in range(8640)]  # a day of 11 m jitter every 10 s
    assert rules.travelled_km(wander) == 0
    assert rules.unassigned_movement(wander, [], DEFAULT_PARAMS["unassigned_movement"]) is None


DEPOT = (31.8106, 119.9741)


@pytest.mark.parametrize("distances_km, fires", [
    ([1.2, 1.3, 1.1], True),
    ([1.2, 0.9, 1.3], False),   # came back within 1 km at some point
    ([0.99], False),
    ([], False),
])
def test_parked_off_site_when_every_night_fix_is_over_a_kilometre_away(distances_km, fires):
    night = [Fix(T + timedelta(minutes=30 * i), DEPOT[0] + d * KM_LAT, DEPOT[1])
             for i, d in enumerate(distances_km)]
    facts = rules.parked_off_site(night, DEPOT, DEFAULT_PARAMS["parked_off_site"])
    assert (facts is not None) == fires


def test_no_depot_no_parking_finding():
    fix = Fix(T, 31.0, 119.0)
    assert rules.parked_off_site([fix], None, DEFAULT_PARAMS["parked_off_site"]) is None


@pytest.mark.parametrize("odometer, steps, fires", [
    ("10.0", 20, False),     # the GPS says 10.0 km
    ("11.4", 20, False),     # 14 % more, under the 15 %
    ("13.0", 20, True),      # 3 km and 30 % more
    ("7.0", 20, True),       # 3 km less
    ("30.0", 4, True),       # fixes exactly 5 min apart still cover the run
])
def test_odometer_against_gps_distance(odometer, steps, fires):
    track = drive(10.0, steps=steps) if steps == 20 else [
        Fix(T + timedelta(minutes=5 * i), A[0], A[1] + 10 * i / steps / 94.65)
        for i in range(steps + 1)]
    end = track[-1].at
    facts = rules.odometer_gps_mismatch(Decimal(odometer), track, T, end,
                                        DEFAULT_PARAMS["odometer_gps_mismatch"])
    assert (facts is not None) == fires


def test_no_odometer_verdict_on_a_track_with_gaps():
    track = drive(10.0)[:5] + drive(10.0)[15:]  # ten minutes without a fix
    assert rules.odometer_gps_mismatch(Decimal("30"), track, T, track[-1].at,
                                       DEFAULT_PARAMS["odometer_gps_mismatch"]) is None
    assert not rules.covered(track, T, track[-1].at, timedelta(minutes=5))
    assert not rules.covered(drive(10.0), T - timedelta(minutes=6), T + timedelta(minutes=20),
                             timedelta(minutes=5))
