"""Reading positions: a trip's track beside its odometer, simplified tracks, datums, scope."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from app import clock
from providers.geo import wgs84_to_gcj02
from tests.factories import ok
from tests.positions.conftest import T0, iso, traccar


@pytest.fixture
def post_fixes(api, gateway, devices):
    """Post fixes of a vehicle east along a parallel, one every ``every`` seconds from
    ``start`` (about 36 km/h at 10 s)."""

    def post(vehicle_id: int, start, count: int, *, every: int = 10, lat: float = 31.78,
             lng: float = 119.90, step: float = 0.00106) -> list[tuple[float, float]]:
        points = []
        for i in range(count):
            point = (lat, round(lng + i * step, 7))
            resp = api.client.post("/api/v1/telemetry/traccar", headers=gateway, json=traccar(
                devices[vehicle_id], start + timedelta(seconds=every * i), *point, knots=19.4))
            assert resp.status_code == 200, resp.get_json()
            points.append(point)
        return points

    return post


def test_a_trips_track_runs_from_setting_off_to_return_with_gps_beside_odometer_km(
        api, make_trip, drive, fleet, travel, post_fixes):
    vehicle = fleet["sedans"][0]["id"]
    trip_id = make_trip(depart_at=T0 + timedelta(hours=1))
    drive(trip_id, vehicle_id=vehicle, until="started", start_km=str(
        fleet["sedans"][0]["odometer_km"] + 1))
    started = clock.now()
    post_fixes(vehicle, started - timedelta(minutes=5), 5, every=60)  # before setting off
    travel(started + timedelta(hours=1))
    points = post_fixes(vehicle, started, 60, every=60)
    on_the_road = ok(api.get(f"/trips/{trip_id}/track", as_="demo-traveler",
                             query_string={"full": "true"}))
    assert on_the_road["finished_at"] is None and on_the_road["point_count"] == 60
    ok(api.post(f"/trips/{trip_id}/finish", as_="demo-driver", json={
        "odometer_km": str(fleet["sedans"][0]["odometer_km"] + 11), "tolls": "0.00",
        "parking": "0.00", "lodging": "0.00", "waiting_minutes": 0}))
    post_fixes(vehicle, clock.now() + timedelta(minutes=1), 3)  # after return
    track = ok(api.get(f"/trips/{trip_id}/track", as_="demo-traveler",
                       query_string={"full": "true"}))
    assert track["vehicle_id"] == vehicle and track["point_count"] == 60
    assert [(p["lat"], p["lng"]) for p in track["points"]] == points
    assert track["odometer_km"] == "10.0"
    # 59 legs of 0.00106° of longitude at 31.78° N (100.3 m each)
    assert Decimal(track["gps_km"]) == Decimal("5.9")
    simplified = ok(api.get(f"/trips/{trip_id}/track", as_="demo-dispatcher"))
    assert simplified["simplified"] is True and len(simplified["points"]) == 2
    assert simplified["gps_km"] == track["gps_km"]  # measured on every fix, not the drawing


def test_a_trip_not_yet_on_the_road_has_an_empty_track(api, make_trip):
    trip_id = make_trip()
    track = ok(api.get(f"/trips/{trip_id}/track", as_="demo-traveler"))
    assert track["points"] == [] and track["gps_km"] is None and track["vehicle_id"] is None


def test_a_trips_track_is_scoped_like_the_trip(api, make_trip):
    trip_id = make_trip()
    assert api.get(f"/trips/{trip_id}/track", as_="demo-traveler-2").status_code == 404
    assert api.get(f"/trips/{trip_id}/track", as_="demo-supervisor").status_code == 200


def test_a_vehicle_track_is_for_dispatchers_and_supervisors(api, fleet, now, post_fixes):
    vehicle = fleet["vehicles"][0]["id"]
    post_fixes(vehicle, T0, 3)
    query = {"from": iso(T0), "to": iso(T0 + timedelta(hours=1))}
    for openid in ("demo-dispatcher", "demo-supervisor"):
        assert ok(api.get(f"/vehicles/{vehicle}/track", as_=openid,
                          query_string=query))["point_count"] == 3
    for openid in ("demo-traveler", "demo-driver", "demo-finance"):
        assert api.get(f"/vehicles/{vehicle}/track", as_=openid,
                       query_string=query).status_code == 403
        assert api.get("/vehicles/positions", as_=openid).status_code == 403
    assert api.get("/vehicles/999999/track", as_="demo-supervisor",
                   query_string=query).status_code == 404


def test_a_straight_drive_simplifies_to_its_ends_unless_full_is_asked(api, fleet, now,
                                                                      post_fixes):
    vehicle = fleet["vehicles"][0]["id"]
    points = post_fixes(vehicle, T0, 30)
    query = {"from": iso(T0), "to": iso(T0 + timedelta(minutes=10))}
    simple = ok(api.get(f"/vehicles/{vehicle}/track", as_="demo-dispatcher", query_string=query))
    assert [(p["lat"], p["lng"]) for p in simple["points"]] == [points[0], points[-1]]
    assert (simple["point_count"], simple["simplified"]) == (30, True)
    full = ok(api.get(f"/vehicles/{vehicle}/track", as_="demo-dispatcher",
                      query_string={**query, "full": "true"}))
    assert len(full["points"]) == 30 and full["simplified"] is False


def test_coordinates_are_converted_to_gcj02_at_the_edge_on_request(api, fleet, now,
                                                                   post_fixes):
    vehicle = fleet["vehicles"][0]["id"]
    (point,) = post_fixes(vehicle, T0, 1)
    gcj = tuple(round(v, 7) for v in wgs84_to_gcj02(*point))
    live = ok(api.get("/vehicles/positions", as_="demo-dispatcher",
                      query_string={"coords": "gcj02"}))
    assert live["datum"] == "gcj02"
    assert [(i["lat"], i["lng"]) for i in live["items"] if i["vehicle_id"] == vehicle] == [gcj]
    track = ok(api.get(f"/vehicles/{vehicle}/track", as_="demo-dispatcher", query_string={
        "from": iso(T0), "to": iso(T0), "coords": "gcj02"}))
    assert (track["points"][0]["lat"], track["points"][0]["lng"]) == gcj
    wgs = ok(api.get("/vehicles/positions", as_="demo-dispatcher"))
    assert [(i["lat"], i["lng"]) for i in wgs["items"] if i["vehicle_id"] == vehicle] == [point]


@pytest.mark.parametrize("span, code", [(timedelta(days=8), "range_too_long"),
                                        (-timedelta(minutes=1), "invalid_range")])
def test_a_track_range_must_be_ordered_and_at_most_a_week(api, fleet, now, span, code):
    resp = api.get(f"/vehicles/{fleet['vehicles'][0]['id']}/track", as_="demo-dispatcher",
                   query_string={"from": iso(T0), "to": iso(T0 + span)})
    assert (resp.status_code, resp.get_json()["code"]) == (422, code)


def test_the_live_map_shows_the_run_a_vehicle_is_on(api, make_trip, drive, fleet, post_fixes):
    vehicle = fleet["sedans"][0]["id"]
    trip_id = make_trip(depart_at=T0 + timedelta(hours=1))
    drive(trip_id, vehicle_id=vehicle, until="started")
    post_fixes(vehicle, clock.now(), 1)
    post_fixes(fleet["sedans"][1]["id"], clock.now(), 1)
    items = {i["vehicle_id"]: i for i in ok(api.get("/vehicles/positions",
                                                    as_="demo-supervisor"))["items"]}
    assert items[vehicle]["trip_id"] == trip_id
    assert items[fleet["sedans"][1]["id"]]["trip_id"] is None
    assert items[vehicle]["plate"] == fleet["sedans"][0]["plate"]
