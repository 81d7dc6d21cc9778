"""Which pooled vehicles and drivers could serve a trip: the fleet provider's availability."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import select

from app import db
from app.accounts.models import Driver, Vehicle, VehicleStatus
from providers.fleet import Availability, Candidate

# No vehicle or driver serves two trips closer than this (SPEC §2 step 6).
ASSIGNMENT_BUFFER = timedelta(minutes=30)

# (start, end) → (busy vehicle ids, busy driver ids) over that window.
BusyChecker = Callable[[datetime, datetime], tuple[set[int], set[int]]]


def pooled_availability(busy: BusyChecker | None = None) -> Availability:
    """Availability over pooled, in-service vehicles and active drivers.

    Assignment overlap is applied when the dispatch module provides its checker as
    ``busy``: it is asked about the trip's window widened by the 30-minute buffer on both
    sides, and the vehicles and drivers it names are left out. Each call reads in its own
    short session, because the quote fan-out runs it on a worker thread.
    """

    def availability(vehicle_class: str, seats: int, start: datetime,
                     end: datetime) -> list[Candidate]:
        busy_vehicles, busy_drivers = (busy(start - ASSIGNMENT_BUFFER, end + ASSIGNMENT_BUFFER)
                                       if busy else (set(), set()))
        with db.session.session_factory() as session:
            vehicles = session.scalars(
                select(Vehicle).where(Vehicle.pooled.is_(True),
                                      Vehicle.status == VehicleStatus.AVAILABLE,
                                      Vehicle.vehicle_class == vehicle_class,
                                      Vehicle.seats >= seats)
                .order_by(Vehicle.seats, Vehicle.id)).all()
            drivers = session.scalars(select(Driver.id).where(Driver.active.is_(True))
                                      .order_by(Driver.id)).all()
            free_drivers = [d for d in drivers if d not in busy_drivers]
            free_vehicles = [v for v in vehicles if v.id not in busy_vehicles]
            return [Candidate(v.id, v.plate, v.vehicle_class.value, v.seats, v.nev, driver_id)
                    for v, driver_id in zip(free_vehicles, free_drivers)]

    return availability
