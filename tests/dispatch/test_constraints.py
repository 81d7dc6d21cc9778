"""The database itself refuses double booking (PostgreSQL exclusion constraints), whatever
code writes the rows; one active assignment per trip on both databases."""
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.dispatch import assignment
from app.dispatch.models import Assignment, ReleaseReason
from app.trips.models import Trip

from .conftest import T0


@pytest.fixture
def postgres_only(app):
    if not app.config["DATABASE_URL"].startswith("postgresql"):
        pytest.skip("exclusion constraints exist on PostgreSQL; SQLite serialises writers")


def _row(s, trip_id, vehicle_id, driver_id):
    return Assignment.for_window(s.get(Trip, trip_id), vehicle_id=vehicle_id,
                                 driver_id=driver_id)


def _active_trips(s, shared, resource_id) -> list[int]:
    """The trips holding an active assignment of the vehicle (driver) ``resource_id``."""
    column = Assignment.vehicle_id if shared == "vehicle" else Assignment.driver_id
    return sorted(s.scalars(select(Assignment.trip_id).where(column == resource_id,
                                                             Assignment.active)))


def _refusal(s) -> str:
    """Flush the pending insert, which an exclusion constraint must refuse; returns the
    409 code the service makes of it (``vehicle_busy``/``driver_busy``), session usable."""
    with pytest.raises(IntegrityError) as caught:
        s.flush()
    error = assignment.constraint_conflict(caught.value)
    assert error.status == 409 and f"ex_assignments_{error.code}" in str(caught.value.orig)
    s.rollback()
    return error.code


def _two_tasks(make_trip, fleet, shared, gap_minutes):
    """Two trips ``gap_minutes`` apart and, for each, a (vehicle, driver) pair sharing only
    the ``shared`` one; returns [(trip, vehicle, driver), ...] and the shared resource."""
    first = make_trip(depart_at=T0, hours=2)
    second = make_trip(depart_at=T0 + timedelta(hours=2, minutes=gap_minutes), hours=1)
    v1, v2 = fleet["sedans"][0]["id"], fleet["sedans"][1]["id"]
    d1, d2 = fleet["drivers"]["钱进"], fleet["drivers"]["孔亮"]
    tasks = [(first, v1, d1), (second, v1, d2) if shared == "vehicle" else (second, v2, d1)]
    return tasks, v1 if shared == "vehicle" else d1


@pytest.mark.parametrize("shared", ["vehicle", "driver"])
def test_exclusion_constraint_refuses_a_gap_shorter_than_the_buffer(
        postgres_only, make_trip, fleet, in_db, now, shared):
    tasks, resource = _two_tasks(make_trip, fleet, shared, gap_minutes=29)
    with in_db() as s:
        s.add(_row(s, *tasks[0]))
    with in_db() as s:
        s.add(_row(s, *tasks[1]))
        assert _refusal(s) == f"{shared}_busy"
    with in_db() as s:
        assert _active_trips(s, shared, resource) == [tasks[0][0]]


@pytest.mark.parametrize("shared", ["vehicle", "driver"])
def test_exclusion_constraint_allows_exactly_the_buffer(
        postgres_only, make_trip, fleet, in_db, now, shared):
    tasks, resource = _two_tasks(make_trip, fleet, shared, gap_minutes=30)
    with in_db() as s:
        s.add(_row(s, *tasks[0]))
    with in_db() as s:
        s.add(_row(s, *tasks[1]))
    with in_db() as s:
        assert _active_trips(s, shared, resource) == [tasks[0][0], tasks[1][0]]


def test_released_assignments_do_not_block(postgres_only, make_trip, fleet, in_db, now):
    trip_a, trip_b = make_trip(), make_trip()  # the same window
    v1, d1 = fleet["sedans"][0]["id"], fleet["drivers"]["钱进"]
    with in_db() as s:
        s.add(_row(s, trip_a, v1, d1))
    with in_db() as s:  # while trip a holds them, trip b cannot have them
        s.add(_row(s, trip_b, v1, d1))
        assert _refusal(s) in {"vehicle_busy", "driver_busy"}
    with in_db() as s:
        held = s.scalar(select(Assignment).where(Assignment.trip_id == trip_a))
        held.release(ReleaseReason.UNASSIGNED, actor_id=None)
    with in_db() as s:  # released, it no longer blocks either the vehicle or the driver
        s.add(_row(s, trip_b, v1, d1))
    with in_db() as s:
        assert _active_trips(s, "vehicle", v1) == _active_trips(s, "driver", d1) == [trip_b]


def test_one_active_assignment_per_trip_in_the_database(make_trip, fleet, in_db, now):
    trip_id = make_trip()
    with in_db() as s:
        s.add(_row(s, trip_id, fleet["sedans"][0]["id"], fleet["drivers"]["钱进"]))
    with in_db() as s:
        s.add(_row(s, trip_id, fleet["sedans"][1]["id"], fleet["drivers"]["孔亮"]))
        with pytest.raises(IntegrityError) as caught:
            s.flush()
        assert assignment.constraint_conflict(caught.value).code == "already_assigned"
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
