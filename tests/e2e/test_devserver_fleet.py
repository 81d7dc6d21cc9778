"""The running demo: a pooled-fleet trip goes request → quotes → submit → approve →
auto-assign → start → finish → confirm, and its charge is the paid-use tariff's, final."""
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import chinese_calendar
import requests

from app import clock

from tests.e2e.test_devserver import devserver  # noqa: F401  (the fixture)

STOPS = [{"name": "市民广场", "lat": 31.81, "lng": 119.97},
         {"name": "天宁区政府", "lat": 31.78, "lng": 119.98}]


def test_fleet_trip_from_request_to_confirmed_charge(devserver):  # noqa: F811
    url, _, _ = devserver
    api = f"{url}/api/v1"
    keys = iter(range(1, 1000))

    def login(openid):
        resp = requests.post(f"{api}/auth/wechat-login", json={"code": f"sandbox:{openid}"},
                             timeout=10)
        resp.raise_for_status()
        return resp.json()["access_token"]

    def call(method, path, token, json=None, expect=200):
        headers = {"Authorization": f"Bearer {token}"}
        if method == "POST":
            headers["Idempotency-Key"] = f"e2e-fleet-{next(keys)}"
        resp = requests.request(method, f"{api}{path}", headers=headers, json=json, timeout=30)
        assert resp.status_code == expect, (path, resp.status_code, resp.text)
        return resp.json()

    traveler, approver = login("demo-traveler"), login("demo-approver")
    dispatcher, driver = login("demo-dispatcher"), login("demo-driver")
    depart = datetime.now(timezone.utc) + timedelta(hours=2)
    trip = call("POST", "/trips", traveler, {
        "purpose": {"category": "meeting", "text": "市政府专题会议"},
        "passengers": [{"name": "张明"}], "stops": STOPS, "depart_at": depart.isoformat(),
        "return_at": (depart + timedelta(hours=2)).isoformat(), "vehicle_class": "sedan"},
        expect=201)
    quotes = call("POST", f"/trips/{trip['id']}/quotes", traveler, {})
    offer = next(o for o in quotes["offers"] if o["channel"] == "fleet")
    assert offer["compliant"] and offer["vehicle_class"] == "sedan"
    call("POST", f"/trips/{trip['id']}/submit", traveler, {"offer_id": offer["id"]})

    task = next(t for t in call("GET", "/approvals?state=pending", approver)["items"]
                if t["trip_id"] == trip["id"])
    call("POST", f"/approvals/{task['id']}/approve", approver, {"comment": "同意"})
    # The trip leaves in two hours, real time: when that falls on a non-workday in Beijing
    # (a Friday evening in UTC is already Saturday there), SPEC §4 adds the platform step.
    if not chinese_calendar.is_workday(clock.local_date(depart)):
        assert call("GET", f"/trips/{trip['id']}", traveler)["state"] == "pending_approval"
        platform = login("demo-platform-approver")
        task = next(t for t in call("GET", "/approvals?state=pending", platform)["items"]
                    if t["trip_id"] == trip["id"])
        call("POST", f"/approvals/{task['id']}/approve", platform, {"comment": "同意"})
    assert call("GET", f"/trips/{trip['id']}", traveler)["state"] == "approved"

    queue = call("GET", "/dispatch/queue", dispatcher)["items"]
    assert trip["id"] in [t["id"] for t in queue]
    assigned = call("POST", f"/trips/{trip['id']}/assign", dispatcher, {})
    vehicle = assigned["vehicle"]
    assert vehicle["vehicle_class"] == "sedan" and vehicle["nev"] is True  # NEV first
    assert trip["id"] in [t["trip_id"] for t in call("GET", "/driver/tasks", driver)["items"]]

    odometer = Decimal(str(vehicle["odometer_km"]))
    call("POST", f"/trips/{trip['id']}/start", driver, {"odometer_km": str(odometer)})
    # The run lasts seconds: a longer distance would imply more than 150 km/h (SPEC §6.1).
    call("POST", f"/trips/{trip['id']}/finish", driver, {
        "odometer_km": str(odometer), "tolls": "10.00", "parking": "5.00"})
    assert call("GET", f"/trips/{trip['id']}", traveler)["state"] == "completed"
    charge = call("GET", f"/trips/{trip['id']}/charge", traveler)
    # In-city sedan for less than two hours: the 30.00 block (SPEC §5.1) plus tolls and parking.
    assert charge["final"] is False and charge["total"] == "45.00"
    assert {line["kind"] for line in charge["lines"]} >= {"time_block", "toll", "parking"}
    # SPEC §5.4: the market reference is the undiscounted rental ceiling (a sedan half day,
    # at most 4 h and 50 km: 500 / 2), and savings = reference − charge.
    assert (charge["market_reference"], charge["savings"]) == ("250.00", "205.00")

    call("POST", f"/trips/{trip['id']}/confirm", traveler)
    assert call("GET", f"/trips/{trip['id']}", traveler)["state"] == "confirmed"
    charge = call("GET", f"/trips/{trip['id']}/charge", traveler)
    assert charge["final"] is True and charge["total"] == "45.00"
