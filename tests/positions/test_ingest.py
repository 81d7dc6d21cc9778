"""Fixes arrive as Traccar forwards them and as phones send them (OsmAnd), over real HTTP;
the track reads them back. Units, times, duplicates, late and absurd fixes, unknown devices
and credentials as a gateway or a phone meets them."""
from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from app.positions.models import LatestPosition, Position, UnknownDevice
from tests.factories import ok
from tests.positions.conftest import KNOT, T0, iso, traccar

# Along 延陵西路 in Changzhou, WGS-84.
ROUTE = [(31.7790, 119.9500), (31.7791, 119.9530), (31.7792, 119.9560), (31.7793, 119.9590)]


def _login(base: str, openid: str) -> dict:
    resp = requests.post(f"{base}/api/v1/auth/wechat-login", json={"code": f"sandbox:{openid}"},
                         timeout=10)
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def test_traccar_and_osmand_fixes_posted_over_http_are_read_back_as_the_track(
        live_server, gateway, devices, now, api):
    sedan, phone_car = list(devices)[:2]
    http = requests.Session()
    for i, (lat, lng) in enumerate(ROUTE):
        resp = http.post(f"{live_server}/api/v1/telemetry/traccar", headers=gateway, timeout=10,
                         json=traccar(devices[sedan], T0 + timedelta(seconds=10 * i), lat, lng,
                                      knots=20.0))
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"status": "stored", "vehicle_id": sedan, "valid": True,
                               "flaw": None}
    key = ok(api.post(f"/admin/vehicles/{phone_car}/device-key", as_="demo-admin"), 201)["key"]
    osmand = f"{live_server}/api/v1/telemetry/osmand"
    phone = devices[phone_car]
    # OsmAnd query parameters (GET), epoch seconds, speed in knots
    assert http.get(osmand, timeout=10, params={
        "id": phone, "key": key, "timestamp": int(T0.timestamp()), "lat": 31.70, "lon": 119.94,
        "speed": 10, "bearing": 45, "altitude": 5, "accuracy": 8, "batt": 77}).status_code == 200
    # form parameters (POST), "yyyy-MM-dd HH:mm:ss" in UTC
    form_time = (T0 + timedelta(seconds=30)).strftime("%Y-%m-%d %H:%M:%S")
    assert http.post(osmand, timeout=10, data={
        "deviceid": phone, "key": key, "timestamp": form_time,
        "location": "31.7003,119.9403", "speed": "0"}).status_code == 200
    # Traccar Client 9+: JSON body, speed in m/s, key in the URL
    resp = http.post(osmand, params={"key": key}, timeout=10, json={
        "location": {"timestamp": (T0 + timedelta(minutes=1)).isoformat().replace("+00:00", "Z"),
                     "coords": {"latitude": 31.7006, "longitude": 119.9406, "accuracy": 5,
                                "speed": 10, "heading": 90, "altitude": 4},
                     "is_moving": True, "odometer": 1200, "event": "motionchange",
                     "battery": {"level": 0.5, "is_charging": False},
                     "activity": {"type": "in_vehicle"}, "extras": {}},
        "device_id": phone})
    assert resp.status_code == 200, resp.text

    dispatcher = _login(live_server, "demo-dispatcher")
    window = {"from": iso(T0 - timedelta(minutes=1)), "to": iso(T0 + timedelta(minutes=5)),
              "full": "true"}
    track = http.get(f"{live_server}/api/v1/vehicles/{sedan}/track", params=window,
                     headers=dispatcher, timeout=10).json()
    assert [(p["lat"], p["lng"]) for p in track["points"]] == ROUTE
    assert track["points"][0]["at"] == (T0.astimezone(_shanghai())).isoformat()
    assert {p["speed"] for p in track["points"]} == {round(20 * KNOT, 2)}
    assert track["point_count"] == 4 and track["simplified"] is False
    assert track["gps_km"] == "0.9"  # 0.0090° of longitude at 31.78° N is 852 m
    phone_track = http.get(f"{live_server}/api/v1/vehicles/{phone_car}/track", params=window,
                           headers=dispatcher, timeout=10).json()
    assert [(p["lat"], p["lng"], p["speed"]) for p in phone_track["points"]] == [
        (31.70, 119.94, round(10 * KNOT, 2)), (31.7003, 119.9403, 0.0),
        (31.7006, 119.9406, 36.0)]
    live = http.get(f"{live_server}/api/v1/vehicles/positions", headers=dispatcher,
                    timeout=10).json()["items"]
    by_vehicle = {item["vehicle_id"]: item for item in live}
    assert (by_vehicle[sedan]["lat"], by_vehicle[sedan]["lng"]) == ROUTE[-1]
    assert (by_vehicle[phone_car]["lat"], by_vehicle[phone_car]["lng"]) == (31.7006, 119.9406)


def _shanghai():
    from app.clock import SHANGHAI
    return SHANGHAI


def test_a_repeated_fix_is_stored_once_and_a_late_one_never_moves_the_live_map_back(
        api, gateway, devices, now, in_db):
    vehicle = list(devices)[0]
    post = lambda body: api.client.post("/api/v1/telemetry/traccar", json=body,  # noqa: E731
                                        headers=gateway)
    first = traccar(devices[vehicle], T0, 31.78, 119.95)
    assert post(first).get_json()["status"] == "stored"
    assert post(first).get_json()["status"] == "duplicate"  # Traccar's retry
    assert post(traccar(devices[vehicle], T0 + timedelta(minutes=2), 31.79, 119.96)).status_code == 200
    late = post(traccar(devices[vehicle], T0 + timedelta(minutes=1), 31.785, 119.955)).get_json()
    assert late == {"status": "stored", "vehicle_id": vehicle, "valid": True, "flaw": None}
    with in_db() as s:
        stored = s.scalars(select(Position.at).where(Position.vehicle_id == vehicle)
                           .order_by(Position.at)).all()
        assert stored == [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]
        latest = s.get(LatestPosition, vehicle)
        assert (latest.at, latest.lat, latest.lng) == (T0 + timedelta(minutes=2), 31.79, 119.96)


@pytest.mark.parametrize("lat, lng, after, flaw", [
    (0.0, 0.0, timedelta(seconds=10), "null_island"),
    # 25 km east in 90 s is 1,000 km/h
    (31.78, 119.95 + 25 / 94.7, timedelta(seconds=90), "jump"),
])
def test_absurd_fixes_are_kept_but_invalid_and_stay_off_the_track_and_the_map(
        api, gateway, devices, now, in_db, lat, lng, after, flaw):
    vehicle = list(devices)[0]
    post = lambda body: api.client.post("/api/v1/telemetry/traccar", json=body,  # noqa: E731
                                        headers=gateway).get_json()
    post(traccar(devices[vehicle], T0, 31.78, 119.95))
    assert post(traccar(devices[vehicle], T0 + after, lat, lng)) == {
        "status": "stored", "vehicle_id": vehicle, "valid": False, "flaw": flaw}
    # the next sane fix is judged against the last valid one, not the absurd one
    assert post(traccar(devices[vehicle], T0 + after + timedelta(seconds=10), 31.7801,
                        119.9501))["valid"] is True
    with in_db() as s:
        row = s.get(Position, (vehicle, T0 + after))
        assert (row.valid, row.flaw, row.lat, row.lng) == (False, flaw, lat, lng)
        assert s.get(LatestPosition, vehicle).lat == 31.7801
    track = ok(api.get(f"/vehicles/{vehicle}/track", as_="demo-supervisor", query_string={
        "from": iso(T0), "to": iso(T0 + timedelta(hours=1)), "full": "true"}))
    assert [p["lat"] for p in track["points"]] == [31.78, 31.7801]


def test_a_fix_the_device_marks_invalid_is_kept_as_invalid(api, gateway, devices, now):
    vehicle = list(devices)[0]
    resp = api.client.post("/api/v1/telemetry/traccar", headers=gateway,
                           json=traccar(devices[vehicle], T0, 31.78, 119.95, valid=False))
    assert resp.get_json()["flaw"] == "device_invalid"


def test_an_unknown_device_is_refused_clearly_and_counted(api, gateway, now, in_db):
    for _ in range(3):
        resp = api.client.post("/api/v1/telemetry/traccar", headers=gateway,
                               json=traccar("999000111222333", T0, 31.78, 119.95))
        assert resp.status_code == 404
        assert resp.get_json()["code"] == "unknown_device"
        assert "999000111222333" in resp.get_json()["message"]
    resp = api.client.get("/api/v1/telemetry/osmand", query_string={
        "id": "phone-x", "lat": 31.7, "lon": 119.9, "timestamp": int(T0.timestamp())})
    assert resp.status_code == 404
    with in_db() as s:
        counts = {d.device_id: (d.count, d.source) for d in s.scalars(select(UnknownDevice))}
    assert counts == {"999000111222333": (3, "traccar"), "phone-x": (1, "osmand")}
    listed = ok(api.get("/telemetry/unknown-devices", as_="demo-admin"))
    assert {d["device_id"]: d["count"] for d in listed} == {"999000111222333": 3, "phone-x": 1}


@pytest.mark.parametrize("header, code", [
    (None, "gateway_unauthorized"),
    ("Bearer not-the-secret", "bad_gateway_secret"),
    ("Basic dGVzdA==", "gateway_unauthorized"),
])
def test_the_gateway_must_carry_its_secret(api, gateway, devices, now, header, code):
    headers = {"Authorization": header} if header else {}
    resp = api.client.post("/api/v1/telemetry/traccar", headers=headers,
                           json=traccar(devices[list(devices)[0]], T0, 31.78, 119.95))
    assert (resp.status_code, resp.get_json()["code"]) == (401, code)


def test_each_of_several_gateways_is_let_in_by_its_own_secret(api, app, devices, now,
                                                             monkeypatch):
    monkeypatch.setitem(app.config, "TRACCAR_GATEWAYS_JSON",
                        '{"wujin": "wujin-secret-abc", "jintan": "jintan-secret-xyz"}')
    body = traccar(devices[list(devices)[0]], T0, 31.78, 119.95)
    for secret in ("wujin-secret-abc", "jintan-secret-xyz"):
        resp = api.client.post("/api/v1/telemetry/traccar", json=body,
                               headers={"Authorization": f"Bearer {secret}"})
        assert resp.status_code == 200
    assert api.client.post("/api/v1/telemetry/traccar", json=body, headers={
        "Authorization": "Bearer wujin-secret-ab"}).status_code == 401


def test_a_phone_needs_its_vehicles_current_key(api, devices, now):
    vehicle = list(devices)[1]
    params = {"id": devices[vehicle], "lat": 31.7, "lon": 119.9,
              "timestamp": int(T0.timestamp())}
    missing = api.client.get("/api/v1/telemetry/osmand", query_string=params)
    assert (missing.status_code, missing.get_json()["code"]) == (401, "device_key_required")
    old = ok(api.post(f"/admin/vehicles/{vehicle}/device-key", as_="demo-admin"), 201)["key"]
    new = ok(api.post(f"/admin/vehicles/{vehicle}/device-key", as_="demo-admin"), 201)["key"]
    stale = api.client.get("/api/v1/telemetry/osmand", query_string={**params, "key": old})
    assert (stale.status_code, stale.get_json()["code"]) == (401, "bad_device_key")
    assert api.client.get("/api/v1/telemetry/osmand",
                          query_string={**params, "key": new}).status_code == 200


@pytest.mark.parametrize("shift, code", [
    (timedelta(minutes=10), "fix_in_future"),
    (-timedelta(days=800), "fix_too_old"),
])
def test_fixes_outside_the_kept_window_are_refused(api, gateway, devices, now, shift, code):
    resp = api.client.post("/api/v1/telemetry/traccar", headers=gateway,
                           json=traccar(devices[list(devices)[0]], T0 + shift, 31.78, 119.95))
    assert (resp.status_code, resp.get_json()["code"]) == (422, code)


@pytest.mark.parametrize("mutate, field", [
    (lambda b: b["position"].pop("latitude"), "position.latitude"),
    (lambda b: b["position"].update(latitude=91), "position.latitude"),
    (lambda b: b["position"].update(longitude="east"), "position.longitude"),
    (lambda b: b["position"].update(fixTime="yesterday"), "position.fixTime"),
    (lambda b: b["device"].pop("uniqueId"), "device.uniqueId"),
    (lambda b: b.pop("device"), "device"),
])
def test_a_body_that_is_no_fix_names_the_field(api, gateway, devices, now, mutate, field):
    body = traccar(devices[list(devices)[0]], T0, 31.78, 119.95)
    mutate(body)
    resp = api.client.post("/api/v1/telemetry/traccar", headers=gateway, json=body)
    assert resp.status_code == 422
    assert field in resp.get_json()["errors"]
