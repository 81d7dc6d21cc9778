"""Racing assignment requests over real HTTP against a multi-threaded server: one vehicle
(or one driver) wanted by many overlapping trips at once has exactly one winner."""
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier

import pytest
import requests
from sqlalchemy import select

from app.accounts.models import Driver, Vehicle
from app.dispatch.models import Assignment

from .conftest import T0

RACERS = 8


def _token(base: str, openid: str) -> str:
    resp = requests.post(f"{base}/api/v1/auth/wechat-login", json={"code": f"sandbox:{openid}"},
                         timeout=10)
    resp.raise_for_status()
    return resp.json()["access_token"]


def _race(base: str, token: str, jobs: list[tuple[int, dict]]) -> list[requests.Response]:
    """Fire every (trip id, body) assignment at once; returns the responses."""
    start = Barrier(len(jobs))

    def fire(job):
        trip_id, body = job
        with requests.Session() as http:
            start.wait(timeout=30)
            return http.post(f"{base}/api/v1/trips/{trip_id}/assign", json=body, timeout=60,
                             headers={"Authorization": f"Bearer {token}"})

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(fire, jobs))


def _overlapping_trips(make_trip) -> list[int]:
    # staggered by ten minutes: every pair overlaps, no two are identical
    return [make_trip(depart_at=T0 + timedelta(days=1, minutes=10 * i)) for i in range(RACERS)]


def _outcome(responses) -> Counter:
    return Counter((r.status_code, r.json().get("code") if r.status_code != 200 else "ok")
                   for r in responses)


@pytest.mark.parametrize("shared", ["vehicle", "driver"])
def test_one_vehicle_or_driver_many_trips_one_winner(live_server, now, make_trip, in_db, shared):
    with in_db() as s:
        vehicles = list(s.scalars(select(Vehicle.id).where(Vehicle.vehicle_class == "sedan")
                                  .order_by(Vehicle.id)))[:RACERS]
        drivers = list(s.scalars(select(Driver.id).order_by(Driver.id)))[:RACERS]
    if shared == "vehicle":
        vehicles = vehicles[:1] * RACERS
    else:
        drivers = drivers[:1] * RACERS
    trips = _overlapping_trips(make_trip)
    token = _token(live_server, "demo-dispatcher")

    responses = _race(live_server, token, [
        (trip_id, {"vehicle_id": vehicle, "driver_id": driver})
        for trip_id, vehicle, driver in zip(trips, vehicles, drivers)])

    assert _outcome(responses) == {(200, "ok"): 1, (409, f"{shared}_busy"): RACERS - 1}
    column, wanted = ((Assignment.vehicle_id, vehicles[0]) if shared == "vehicle"
                      else (Assignment.driver_id, drivers[0]))
    with in_db() as s:
        active = s.scalars(select(Assignment.id).where(column == wanted, Assignment.active))
        assert len(active.all()) == 1


def test_concurrent_auto_assignments_never_share_a_vehicle_or_driver(
        live_server, now, make_trip, in_db):
    trips = _overlapping_trips(make_trip)[:6]
    token = _token(live_server, "demo-dispatcher")

    responses = _race(live_server, token, [(trip_id, {}) for trip_id in trips])

    assert [r.status_code for r in responses] == [200] * len(trips), [r.json() for r in responses]
    vehicles = [r.json()["vehicle"]["id"] for r in responses]
    drivers = [r.json()["driver"]["id"] for r in responses]
    assert len(set(vehicles)) == len(trips) and len(set(drivers)) == len(trips)
