"""Racing assignment requests over real HTTP against a multi-threaded server: one vehicle
(or one driver) wanted by many overlapping trips at once has exactly one winner."""
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier

import pytest
import requests
from sqlalchemy import select

from app.accounts.models import Driver, Vehicle
from app.dispatch.models import Assignment, TripRun
from app.trips.models import Trip, TripState
from tests import factories

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


def _race_posts(base: str, posts: list[tuple[str, str, dict]]) -> list[requests.Response]:
    """Fire every (token, path, body) POST at once; returns the responses."""
    start = Barrier(len(posts))

    def fire(post):
        token, path, body = post
        with requests.Session() as http:
            start.wait(timeout=30)
            return http.post(f"{base}/api/v1{path}", json=body, timeout=60,
                             headers={"Authorization": f"Bearer {token}"})

    with ThreadPoolExecutor(max_workers=len(posts)) as pool:
        return list(pool.map(fire, posts))


@pytest.mark.parametrize("action", ["start", "cancel", "unassign"])
def test_racing_moves_of_one_trip_one_wins_the_others_409(
        live_server, now, make_trip, fleet, drive, travel, action):
    """The losers of a race over one trip's state get a 409 with a Chinese message, never a
    500: whether they read the trip before the winner committed (PostgreSQL: a stale
    version or a duplicate row at the losers' commit) or after (SQLite's single writer)."""
    depart_at = T0 + timedelta(hours=3)
    trip_id = make_trip(depart_at=depart_at)
    drive(trip_id, until="dispatched")
    travel(depart_at - timedelta(minutes=30))
    odometer = str(fleet["sedans"][0]["odometer_km"] + 5)
    who, body = {"start": ("demo-driver", {"odometer_km": odometer}),
                 "cancel": ("demo-traveler", {"reason": "会议取消"}),
                 "unassign": ("demo-dispatcher", {"reason": "改派"})}[action]
    token = _token(live_server, who)

    responses = _race_posts(live_server, [(token, f"/trips/{trip_id}/{action}", body)] * RACERS)

    assert Counter(r.status_code for r in responses) == {200: 1, 409: RACERS - 1}, \
        [r.text[:200] for r in responses]
    refusals = [r.json()["message"] for r in responses if r.status_code == 409]
    assert all(re.search(r"[\u4e00-\u9fff]", message) for message in refusals)


def test_a_trip_changed_by_another_request_before_commit_is_409(
        api, now, fleet, make_trip, drive, travel, in_db):
    """The stale version found at the request's commit (what the losers of the races above
    meet on PostgreSQL) made deterministic: a 409 with a Chinese message, nothing kept."""
    trip_id = make_trip(depart_at=T0 + timedelta(hours=3))
    drive(trip_id, until="dispatched")
    travel(T0 + timedelta(hours=2, minutes=30))

    with factories.updated_meanwhile(Trip):
        resp = api.post(f"/trips/{trip_id}/start", as_="demo-driver",
                        json={"odometer_km": str(fleet["sedans"][0]["odometer_km"] + 5)})

    assert resp.status_code == 409 and resp.get_json()["code"] == "concurrent_update"
    assert resp.get_json()["message"] == "该记录已被他人修改，请刷新后重试"
    with in_db() as s:
        assert s.get(Trip, trip_id).state == TripState.DISPATCHED
        assert s.scalar(select(TripRun).where(TripRun.trip_id == trip_id)) is None
