"""Dispatch fixtures: approved fleet trips made directly (approval is another domain's
job), the demo fleet by name, and driving a trip through its lifecycle over the API."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from app import clock, db
from app.accounts.models import Driver, User, Vehicle
from app.trips import events
from app.dispatch.models import Assignment, ReleaseReason, TripRun
from app.trips.models import Channel, Purpose, Trip, TripState
from tests import factories
from tests.factories import ok

# A Tuesday morning in Changzhou.
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=clock.SHANGHAI).astimezone(timezone.utc)


@pytest.fixture
def now(frozen_clock):
    return frozen_clock(T0)


@pytest.fixture
def travel(api, now, frozen_clock):
    """Move the frozen clock; logins are redone, as tokens last only two hours."""

    def to(when: datetime) -> datetime:
        api.tokens.clear()
        return frozen_clock(when)

    return to


@pytest.fixture
def in_db(app):
    """``with in_db() as s:`` — a session for setting up or inspecting rows, committed."""

    @contextmanager
    def scope():
        with app.app_context():
            try:
                yield db.session
                db.session.commit()
            finally:
                db.session.remove()

    return scope


@pytest.fixture
def make_trip(in_db, demo):
    """An approved fleet trip (by default) departing tomorrow at 09:00 for three hours."""

    def make(*, state=TripState.APPROVED, channel=Channel.FLEET, vehicle_class="sedan",
             passengers=1, depart_at=None, hours=3, applicant="demo-traveler",
             purpose=Purpose.MEETING, **fields) -> int:
        with in_db() as s:
            user = s.get(User, demo["users"][applicant])
            return factories.trip(
                s, applicant_id=user.id, unit_id=user.unit_id, state=state,
                depart_at=depart_at or T0 + timedelta(days=1, hours=1), hours=hours,
                purpose_category=purpose, purpose_text="公务出行",
                passengers=factories.passenger_list(passengers),
                vehicle_class=vehicle_class, channel=channel, **fields).id

    return make


@pytest.fixture
def fleet(in_db, demo):
    """Demo vehicles as dicts (in id order) and driver ids by name. The demo was seeded at
    the real time; here its odometers were read the evening before T0."""
    with in_db() as s:
        s.execute(update(Vehicle).values(odometer_at=T0 - timedelta(hours=12)))
        vehicles = [{"id": v.id, "plate": v.plate, "class": str(v.vehicle_class),
                     "nev": v.nev, "odometer_km": v.odometer_km}
                    for v in s.scalars(select(Vehicle).order_by(Vehicle.id))]
        drivers = {d.name: d.id for d in s.scalars(select(Driver).order_by(Driver.id))}
    return {"vehicles": vehicles, "drivers": drivers,
            "sedans": [v for v in vehicles if v["class"] == "sedan"]}


@pytest.fixture
def past_run(in_db, make_trip):
    """A finished trip of ``vehicle_id`` with ``driver_id`` (for usage statistics)."""

    def add(vehicle_id: int, driver_id: int, *, km: int | str, started_at: datetime,
            hours: float = 2) -> None:
        finished_at = started_at + timedelta(hours=hours)
        trip_id = make_trip(state=TripState.COMPLETED, depart_at=started_at, hours=hours)
        with in_db() as s:
            a = Assignment.for_window(s.get(Trip, trip_id), vehicle_id=vehicle_id,
                                      driver_id=driver_id)
            a.release(ReleaseReason.FINISHED, actor_id=None, at=finished_at)
            s.add(a)
            s.flush()
            s.add(TripRun(trip_id=trip_id, assignment_id=a.id, vehicle_id=vehicle_id,
                          driver_id=driver_id, started_at=started_at,
                          start_odometer_km=Decimal(0), finished_at=finished_at,
                          end_odometer_km=Decimal(km), km=Decimal(km)))

    return add


@pytest.fixture
def hook_calls(app):
    """Subscribe recording handlers to the lifecycle events; returns the calls seen."""
    calls: list[tuple] = []
    fee: dict = {}

    def finished(session, *, trip, facts):
        calls.append(("finished", trip.id, facts))

    def confirmed(session, *, trip, auto):
        calls.append(("confirmed", trip.id, auto))

    def cancelled(session, *, trip, **_):
        calls.append(("cancelled", trip.id))
        return events.CancellationFee(amount=fee["amount"], provider="sandbox-ride") if fee else None

    handlers = [(events.TRIP_FINISHED, finished), (events.TRIP_CONFIRMED, confirmed),
                (events.TRIP_CANCELLED, cancelled)]
    for event, fn in handlers:
        events.subscribe(app, event, fn)
    yield calls, fee
    for event, fn in handlers:
        events.unsubscribe(app, event, fn)


@pytest.fixture
def drive(api, fleet, travel, in_db):
    """Assign to the demo driver 钱进 and, unless told to stop earlier, start (1 h later,
    but no earlier than 1 h before departure) and finish (3 h after the start) the trip
    over the API, moving the frozen clock along."""

    def run(trip_id: int, *, vehicle_id=None, until="finished", start_km=None, end_km=None,
            finish_body=None) -> dict:
        vehicle = vehicle_id or fleet["sedans"][0]["id"]
        ok(api.post(f"/trips/{trip_id}/assign", as_="demo-dispatcher",
                    json={"vehicle_id": vehicle, "driver_id": fleet["drivers"]["钱进"]}))
        if until == "dispatched":
            return {}
        with in_db() as s:
            odometer = s.get(Vehicle, vehicle).odometer_km
            depart_at = s.get(Trip, trip_id).depart_at
        start_km = start_km or str(odometer + 5)
        travel(max(clock.now() + timedelta(hours=1), depart_at - timedelta(hours=1)))
        ok(api.post(f"/trips/{trip_id}/start", as_="demo-driver", json={"odometer_km": start_km}))
        if until == "started":
            return {}
        travel(clock.now() + timedelta(hours=3))
        body = finish_body or {"odometer_km": str(Decimal(start_km) + 42), "tolls": "15.00",
                               "parking": "10.00", "lodging": "0.00", "waiting_minutes": 20}
        return ok(api.post(f"/trips/{trip_id}/finish", as_="demo-driver", json=body))

    return run
