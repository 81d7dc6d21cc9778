"""The database itself refuses double booking (PostgreSQL exclusion constraints), whatever
code writes the rows; one active assignment per trip on both databases."""
from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from app.dispatch import assignment as service
from app.dispatch.models import Assignment
from app.trips.models import Trip

from .conftest import T0


@pytest.fixture
def postgres_only(app):
    if not app.config["DATABASE_URL"].startswith("postgresql"):
        pytest.skip("exclusion constraints exist on PostgreSQL; SQLite serialises writers")


def _row(s, trip_id, vehicle_id, driver_id):
    return Assignment.for_window(s.get(Trip, trip_id), vehicle_id=vehicle_id,
                                 driver_id=driver_id)


@pytest.mark.parametrize("gap_minutes, refused", [(30, False), (29, True)])
@pytest.mark.parametrize("shared", ["vehicle", "driver"])
def test_exclusion_constraint_refuses_overlap(postgres_only, make_trip, fleet, in_db, now,
                                              gap_minutes, refused, shared):
    first = make_trip(depart_at=T0, hours=2)
    second = make_trip(depart_at=T0 + timedelta(hours=2, minutes=gap_minutes), hours=1)
    v1, v2 = fleet["sedans"][0]["id"], fleet["sedans"][1]["id"]
    d1, d2 = fleet["drivers"]["钱进"], fleet["drivers"]["孔亮"]
    with in_db() as s:
        s.add(_row(s, first, v1, d1))
    with in_db() as s:
        s.add(_row(s, second, v1 if shared == "vehicle" else v2,
                   d1 if shared == "driver" else d2))
        if not refused:
            return
        with pytest.raises(IntegrityError) as caught:
            s.flush()
        assert f"ex_assignments_{shared}_busy" in str(caught.value.orig)
        error = service.constraint_conflict(caught.value)
        assert error.code == f"{shared}_busy" and error.status == 409
        s.rollback()


def test_released_assignments_do_not_block(postgres_only, make_trip, fleet, in_db, now):
    trip_a, trip_b = make_trip(), make_trip()
    v1, d1 = fleet["sedans"][0]["id"], fleet["drivers"]["钱进"]
    with in_db() as s:
        row = _row(s, trip_a, v1, d1)
        row.active = False
        s.add(row)
    with in_db() as s:
        s.add(_row(s, trip_b, v1, d1))


def test_one_active_assignment_per_trip_in_the_database(make_trip, fleet, in_db, now):
    trip_id = make_trip()
    with in_db() as s:
        s.add(_row(s, trip_id, fleet["sedans"][0]["id"], fleet["drivers"]["钱进"]))
    with in_db() as s:
        s.add(_row(s, trip_id, fleet["sedans"][1]["id"], fleet["drivers"]["孔亮"]))
        with pytest.raises(IntegrityError) as caught:
            s.flush()
        assert service.constraint_conflict(caught.value).code == "already_assigned"
        s.rollback()


def test_availability_seam_uses_the_same_buffer(make_trip, fleet, in_db, now):
    from app.dispatch import availability

    busy_vehicle, busy_driver = fleet["sedans"][0]["id"], fleet["drivers"]["钱进"]
    trip_id = make_trip(depart_at=T0, hours=2)
    with in_db() as s:
        s.add(_row(s, trip_id, busy_vehicle, busy_driver))
    with in_db() as s:
        def free(gap_minutes):
            start = T0 + timedelta(hours=2, minutes=gap_minutes)
            end = start + timedelta(hours=1)
            return ({v.id for v in availability.free_vehicles(s, "sedan", 4, start, end)},
                    {d.id for d in availability.free_drivers(s, start, end)})

        vehicles, drivers = free(29)
        assert busy_vehicle not in vehicles and busy_driver not in drivers
        assert len(vehicles) == len(fleet["sedans"]) - 1
        vehicles, drivers = free(30)
        assert busy_vehicle in vehicles and busy_driver in drivers
