"""The running demo, supervised: the seeded month's cases are listed; a trip driven through
the API with a start reading 10 km above the vehicle's last finish opens an odometer_gap
case; the unit's approver explains it; the supervisor closes it, and the reports answer.

(A distance overrun cannot be driven here in real time: 20 km more than the estimate
within the test's seconds would break the 150 km/h hard limit. The demo history carries
one, listed below, and tests/supervision drives one over the API on a frozen clock.)
"""
import io
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import openpyxl
import requests

from tests.e2e.test_devserver import devserver  # noqa: F401  (the fixture)

STOPS = [{"name": "市民广场", "lat": 31.81, "lng": 119.97},
         {"name": "天宁区政府", "lat": 31.78, "lng": 119.98}]


def test_supervisor_sees_cases_a_unit_explains_the_supervisor_closes(devserver):  # noqa: F811
    url, _, _ = devserver
    api = f"{url}/api/v1"
    keys = iter(range(1, 1000))
    tokens: dict[str, str] = {}

    def call(method, path, who, json=None, expect=200, raw=False):
        if who not in tokens:
            resp = requests.post(f"{api}/auth/wechat-login", json={"code": f"sandbox:{who}"},
                                 timeout=10)
            resp.raise_for_status()
            tokens[who] = resp.json()["access_token"]
        headers = {"Authorization": f"Bearer {tokens[who]}"}
        if method == "POST":
            headers["Idempotency-Key"] = f"e2e-supervision-{next(keys)}"
        resp = requests.request(method, f"{api}{path}", headers=headers, json=json, timeout=60)
        assert resp.status_code == expect, (path, resp.status_code, resp.text)
        return resp if raw else resp.json()

    seeded = call("GET", "/supervision/violations?limit=100", "demo-supervisor")["items"]
    assert {c["rule"] for c in seeded} >= {"odometer_gap", "distance_overrun", "outside_window",
                                           "over_ceiling_bill", "fare_over_estimate"}

    # A pooled sedan last read during last month's history.
    day_ago = datetime.now(timezone.utc) - timedelta(days=1)
    vehicles = call("GET", "/admin/vehicles?limit=100", "demo-admin")["items"]
    vehicle = next(v for v in vehicles if v["vehicle_class"] == "sedan" and v["pooled"]
                   and datetime.fromisoformat(v["odometer_at"]) < day_ago)
    drivers = call("GET", "/admin/drivers?limit=100", "demo-admin")["items"]
    driver_id = next(d["id"] for d in drivers if d["name"] == "钱进")

    depart = datetime.now(timezone.utc) + timedelta(minutes=30)
    trip = call("POST", "/trips", "demo-traveler", {
        "purpose": {"category": "meeting", "text": "市政府专题会议"},
        "passengers": [{"name": "张明"}], "stops": STOPS, "depart_at": depart.isoformat(),
        "return_at": (depart + timedelta(hours=2)).isoformat(), "vehicle_class": "sedan"},
        expect=201)
    offers = call("POST", f"/trips/{trip['id']}/quotes", "demo-traveler", {})["offers"]
    offer = next(o for o in offers if o["channel"] == "fleet")
    call("POST", f"/trips/{trip['id']}/submit", "demo-traveler", {"offer_id": offer["id"]})
    for _ in range(3):  # the unit's step, and the platform's at night or on a rest day
        for approver in ("demo-approver", "demo-platform-approver"):
            for task in call("GET", "/approvals?state=pending", approver)["items"]:
                if task["trip_id"] == trip["id"]:
                    call("POST", f"/approvals/{task['id']}/approve", approver, {"comment": "同意"})
    assert call("GET", f"/trips/{trip['id']}", "demo-traveler")["state"] == "approved"
    call("POST", f"/trips/{trip['id']}/assign", "demo-dispatcher",
         {"vehicle_id": vehicle["id"], "driver_id": driver_id})
    start = Decimal(vehicle["odometer_km"]) + 10
    call("POST", f"/trips/{trip['id']}/start", "demo-driver", {"odometer_km": str(start)})
    call("POST", f"/trips/{trip['id']}/finish", "demo-driver", {
        "odometer_km": str(start), "tolls": "0.00", "parking": "0.00"})

    mine = [c for c in call("GET", "/supervision/violations?rule=odometer_gap",
                            "demo-supervisor")["items"] if c["trip_id"] == trip["id"]]
    assert len(mine) == 1
    case = mine[0]
    assert case["facts"] == {"gap_km": "10.0"} and case["state"] == "open"
    assert case["vehicle_id"] == vehicle["id"] and case["allowed_actions"] == ["close"]
    path = f"/supervision/violations/{case['id']}"
    assert call("GET", path, "demo-approver")["allowed_actions"] == ["explain"]
    call("POST", f"{path}/explain", "demo-approver", {"text": "车辆上次收车后临时加油，未登记里程"})
    closed = call("POST", f"{path}/close", "demo-supervisor",
                  {"outcome": "upheld", "comment": "未按规定登记，予以确认"})
    assert closed["state"] == "closed" and closed["outcome"] == "upheld"
    assert [h["state"] for h in closed["history"]] == ["open", "explained", "closed"]
    assert call("POST", "/supervision/sweep", "demo-supervisor")["new"] == 0

    year = datetime.now(timezone(timedelta(hours=8))).year
    report = call("GET", f"/reports/utilisation?year={year}", "demo-supervisor")
    assert Decimal(report["totals"]["km"]) == sum(Decimal(r["km"]) for r in report["items"])
    book = call("GET", f"/reports/spend?year={year}&format=xlsx", "demo-supervisor", raw=True)
    sheet = openpyxl.load_workbook(io.BytesIO(book.content)).active
    amounts = [row[5].value for row in sheet.iter_rows(min_row=2)]
    assert all(isinstance(a, (int, float)) for a in amounts)
