"""The simulated gateway posts Traccar's forwarding over real HTTP: a deviation injected
through it opens a route_deviation case, a vehicle it moves with no assignment an
unassigned_movement case, a night away from the depot a parked_off_site case (supervision's
cases, read as a supervisor reads them); the demo map is full."""
from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
import requests
from app import clock, worker
from providers.sandbox import gateway as gateway_sandbox
from providers.sandbox.server import SandboxServer
from tests.e2e.test_devserver import devserver  # noqa: F401
from tests.factories import ok
from tests.positions.conftest import T0, TOKEN

STOPS = [{"name": "市民广场", "lat": 31.81, "lng": 119.97},
         {"name": "武进区政府", "lat": 31.70, "lng": 119.94}]
ROUTE = [[31.81, 119.97], [31.70, 119.94], [31.81, 119.97]]


@pytest.fixture
def simulated_gateway(live_server, gateway):
    """The sandbox gateway forwarding to the live API with the gateway's secret."""
    with SandboxServer(gateway_sandbox.create_app(tick=0.2)) as server:
        requests.post(f"{server.url}/__sandbox/target", timeout=5, json={
            "url": f"{live_server}/api/v1/telemetry/traccar", "token": TOKEN}).raise_for_status()
        yield server.url


@pytest.fixture
def detect(app):
    """Run the worker's position detection once; returns how many findings were new."""

    def run() -> int:
        with app.app_context():
            return worker.run_due(names=["positions.detect"])["positions.detect"]

    return run


def _replay(gateway_url: str, device_id: str, **drive) -> dict:
    resp = requests.post(f"{gateway_url}/__sandbox/devices/{device_id}/replay", json=drive,
                         timeout=60)
    resp.raise_for_status()
    return resp.json()


@pytest.fixture
def cases(api):
    """The position cases a supervisor reads (GET /supervision/violations), by rule."""

    def read() -> dict[str, list[dict]]:
        api.tokens.clear()  # the clock moves between logins
        found: dict[str, list[dict]] = {}
        for case in ok(api.get("/supervision/violations", as_="demo-supervisor",
                               query_string={"limit": 100}))["items"]:
            found.setdefault(case["rule"], []).append(case)
        return found

    return read


def test_a_deviation_injected_through_the_simulator_is_a_route_deviation(
        simulated_gateway, make_trip, drive, fleet, devices, travel, cases, detect):
    vehicle = fleet["sedans"][0]["id"]
    trip_id = make_trip(depart_at=T0 + timedelta(hours=1), stops=STOPS)
    drive(trip_id, vehicle_id=vehicle, until="started")
    started = clock.now()
    travel(started + timedelta(hours=2))
    sent = _replay(simulated_gateway, devices[vehicle], route=ROUTE, speed_kmh=40,
                   start=started.isoformat(), every_s=30,
                   deviation={"after_minutes": 10, "minutes": 14, "offset_km": 5})
    assert sent["statuses"] == {"200": sent["posted"]} and sent["posted"] > 50
    assert detect() == 1
    (case,) = cases()["route_deviation"]
    assert (case["trip_id"], case["vehicle_id"], case["state"]) == (trip_id, vehicle, "open")
    assert case["facts"]["minutes"] >= 10 and 4.5 < case["facts"]["max_km"] < 5.5
    assert detect() == 0  # once only


def test_a_drive_along_the_route_is_no_deviation(simulated_gateway, make_trip, drive, fleet,
                                                 devices, travel, cases, detect):
    vehicle = fleet["sedans"][0]["id"]
    trip_id = make_trip(depart_at=T0 + timedelta(hours=1), stops=STOPS)
    drive(trip_id, vehicle_id=vehicle, until="started")
    started = clock.now()
    travel(started + timedelta(hours=2))
    _replay(simulated_gateway, devices[vehicle], route=ROUTE, speed_kmh=40,
            start=started.isoformat(), every_s=30)
    detect()
    assert "route_deviation" not in cases()


def test_a_vehicle_moved_with_no_assignment_is_an_unassigned_movement(
        simulated_gateway, fleet, devices, now, travel, cases, detect):
    idle, short_hop = fleet["sedans"][1]["id"], fleet["sedans"][2]["id"]
    start = T0 - timedelta(hours=1)
    for vehicle, km in ((idle, 0.05), (short_hop, 0.009)):
        _replay(simulated_gateway, devices[vehicle], start=start.isoformat(), every_s=30,
                speed_kmh=30, route=[[31.78, 119.95], [31.78, 119.95 + km]])
    detect()
    moved = cases()["unassigned_movement"]
    assert [(c["vehicle_id"], c["trip_id"]) for c in moved] == [(idle, None)]
    assert moved[0]["facts"]["km"] >= 4.5


def test_a_night_drive_away_from_the_depot_is_parked_off_site(simulated_gateway, fleet,
                                                              devices, frozen_clock, cases, detect):
    vehicle = fleet["vehicles"][3]["id"]
    night = datetime.combine(clock.local_date(T0), time(0, 30), clock.SHANGHAI)
    frozen_clock(night + timedelta(hours=6))
    # from 0:30 to 5:00 the vehicle stands 3 km north of the depot
    away = [31.8106 + 3 / 111.19, 119.9741]
    _replay(simulated_gateway, devices[vehicle], start=night.isoformat(), every_s=600,
            speed_kmh=1, route=[away, [away[0], away[1] + 0.0005]])
    detect()
    (parked,) = cases()["parked_off_site"]
    assert parked["vehicle_id"] == vehicle and parked["facts"]["nearest_km"] > 2.9


def test_the_demo_map_is_never_empty(devserver):  # noqa: F811
    url = devserver[0]
    token = requests.post(f"{url}/api/v1/auth/wechat-login", timeout=10,
                          json={"code": "sandbox:demo-dispatcher"}).json()["access_token"]
    vehicles = []
    deadline = datetime.now() + timedelta(seconds=30)
    while datetime.now() < deadline and len(vehicles) < 19:
        vehicles = requests.get(f"{url}/api/v1/vehicles/positions", timeout=10, headers={
            "Authorization": f"Bearer {token}"}).json()["items"]
    assert len(vehicles) == 19  # every demo vehicle, parked at the depot
    assert {(v["lat"], v["lng"]) for v in vehicles} == {(31.8106, 119.9741)}
