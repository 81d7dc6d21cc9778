"""Pooled-fleet availability over the demo data, and the dispatch seam for busy resources."""
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from app.accounts.models import Driver, Vehicle, VehicleStatus
from app.quotes.availability import ASSIGNMENT_BUFFER, pooled_availability

START = datetime(2026, 12, 1, 1, 0, tzinfo=timezone.utc)
END = START + timedelta(hours=3)


def test_pooled_vehicles_of_the_class_with_enough_seats(demo, session):
    found = pooled_availability()("minibus", 15, START, END)
    assert [c.seats for c in found] == [17, 17]
    assert len(pooled_availability()("sedan", 2, START, END)) == 8  # 10 sedans, 8 drivers
    assert len({c.driver_id for c in pooled_availability()("sedan", 2, START, END)}) == 8


def test_vehicles_out_of_service_and_inactive_drivers_are_left_out(demo, session):
    bus = session.scalars(select(Vehicle).where(Vehicle.seats == 45)).one()
    bus.status = VehicleStatus.MAINTENANCE
    session.commit()
    assert [c.seats for c in pooled_availability()("bus", 30, START, END)] == [35]
    for driver in session.scalars(select(Driver)):
        driver.active = False
    session.commit()
    assert pooled_availability()("bus", 30, START, END) == []


def test_busy_checker_gets_the_buffered_window(demo, session):
    asked = []
    sedans = pooled_availability()("sedan", 1, START, END)

    def busy(start, end):
        asked.append((start, end))
        return {sedans[0].vehicle_id}, {sedans[0].driver_id}

    found = pooled_availability(busy)("sedan", 1, START, END)
    assert asked == [(START - ASSIGNMENT_BUFFER, END + ASSIGNMENT_BUFFER)]
    assert sedans[0].vehicle_id not in {c.vehicle_id for c in found}
    assert sedans[0].driver_id not in {c.driver_id for c in found}
