"""Auto-assign ranking (自动派车): pure rules over plain data, no database.

Vehicles: the smallest class that fits (when the trip names none), new-energy first, then
the vehicle with the least distance this year. Ranking by least distance works the fleet
evenly, so that every pooled vehicle stays above the 5000 km/year utilisation line below
which supervision proposes recalling it (SPEC §6): the vehicle furthest below the line
goes first. Drivers: the fewest hours on duty in the trip's week.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from app.accounts.models import VehicleClass

CLASS_ORDER = [VehicleClass.SEDAN, VehicleClass.MPV, VehicleClass.MINIBUS, VehicleClass.BUS]


@dataclass(frozen=True)
class VehicleCandidate:
    id: int
    vehicle_class: str
    seats: int
    nev: bool
    km_this_year: Decimal


@dataclass(frozen=True)
class DriverCandidate:
    id: int
    minutes_this_week: int


def fits(vehicle_class: str, seats: int, *, wanted_class: str | None, passengers: int) -> bool:
    """Right class (any, when none is wanted) and a seat for every passenger."""
    return (wanted_class is None or str(vehicle_class) == str(wanted_class)) and seats >= passengers


def rank_vehicles(candidates: list[VehicleCandidate], *, wanted_class: str | None,
                  passengers: int) -> list[VehicleCandidate]:
    """Fitting vehicles, best first."""
    fitting = [c for c in candidates
               if fits(c.vehicle_class, c.seats, wanted_class=wanted_class, passengers=passengers)]
    return sorted(fitting, key=lambda c: (
        CLASS_ORDER.index(VehicleClass(c.vehicle_class)), not c.nev,
        c.km_this_year, c.seats, c.id))


def rank_drivers(candidates: list[DriverCandidate]) -> list[DriverCandidate]:
    """Drivers with the fewest minutes this week first."""
    return sorted(candidates, key=lambda c: (c.minutes_this_week, c.id))
