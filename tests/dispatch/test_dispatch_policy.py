"""Auto-assign ranking is a pure function: table-driven, no database."""
from decimal import Decimal

import pytest

from app.dispatch.policy import (DriverCandidate, VehicleCandidate, fits, rank_drivers,
                                 rank_vehicles)


def v(id, cls="sedan", seats=4, nev=False, km=0):
    return VehicleCandidate(id, cls, seats, nev, Decimal(km))


@pytest.mark.parametrize("candidates, wanted, passengers, expected", [
    # NEV first, whatever the distance
    ([v(1, km=10), v(2, nev=True, km=4000)], "sedan", 1, [2, 1]),
    # then the least distance this year (furthest below the 5000 km line)
    ([v(1, nev=True, km=900), v(2, nev=True, km=300), v(3, nev=True, km=6000)], "sedan", 2,
     [2, 1, 3]),
    # wrong class or too few seats never qualify
    ([v(1, "mpv", 6), v(2, "minibus", 14, nev=True), v(3, "minibus", 17)], "minibus", 15, [3]),
    # no class wanted: the smallest fitting class wins over a NEV of a bigger class
    ([v(1, "bus", 45, nev=True), v(2, "mpv", 6), v(3, "sedan", 4)], None, 5, [2, 1]),
    # ties: fewer seats, then id
    ([v(3, "minibus", 17), v(2, "minibus", 14), v(1, "minibus", 17)], "minibus", 10, [2, 1, 3]),
    ([], "sedan", 1, []),
])
def test_rank_vehicles(candidates, wanted, passengers, expected):
    ranked = rank_vehicles(candidates, wanted_class=wanted, passengers=passengers)
    assert [c.id for c in ranked] == expected


def test_rank_drivers_fewest_minutes_then_id():
    ranked = rank_drivers([DriverCandidate(3, 120), DriverCandidate(1, 300),
                           DriverCandidate(2, 120), DriverCandidate(4, 0)])
    assert [c.id for c in ranked] == [4, 2, 3, 1]


@pytest.mark.parametrize("cls, seats, wanted, passengers, ok", [
    ("sedan", 4, "sedan", 4, True), ("sedan", 4, "sedan", 5, False),
    ("mpv", 6, "sedan", 1, False), ("bus", 45, None, 45, True),
])
def test_fits(cls, seats, wanted, passengers, ok):
    assert fits(cls, seats, wanted_class=wanted, passengers=passengers) is ok
