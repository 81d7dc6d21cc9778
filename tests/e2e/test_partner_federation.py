"""Two real instances federating (SPEC §7): Changzhou (``make run``) and Fuzhou (``make
run-partner``), each its own process, database, fleet, tariff and sandboxes on loopback.

A Changzhou traveler going to Fuzhou is offered Fuzhou's fleet priced by Fuzhou's tariff,
books it after Changzhou's approval; Fuzhou's dispatcher assigns it, Fuzhou's driver
drives it; the charge appears on both sides and both monthly partner statements agree to
the cent (and reconcile). A forged or replayed partner request is refused.
"""
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import requests

from app import clock
from app.partners.demo import DEMO_SECRET
from providers.partner import sign_request
from providers.sandbox import runner
from tests.e2e.test_devserver import ROOT, free_port_block

FUZHOU_STOPS = [{"name": "福州火车站", "lat": 26.11, "lng": 119.32},
                {"name": "福建省人民政府", "lat": 26.08, "lng": 119.30}]
CHANGZHOU_STOPS = [{"name": "市民广场", "lat": 31.81, "lng": 119.97},
                   {"name": "天宁区政府", "lat": 31.78, "lng": 119.98}]


def _start(env: dict) -> tuple[subprocess.Popen, str, str]:
    proc = subprocess.Popen([sys.executable, "-m", "app.devserver"], cwd=ROOT,
                            env={**os.environ, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    banner = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        banner.append(line)
        if line.startswith("READY "):
            return proc, line.split()[1], "".join(banner)
    proc.kill()
    pytest.fail("devserver did not become ready:\n" + "".join(banner))


@pytest.fixture(scope="module")
def two_cities(tmp_path_factory, empty_database):
    tmp_path = tmp_path_factory.mktemp("cities")
    pg = bool(os.environ.get("TEST_DATABASE_URL"))
    cz_port, fz_port = free_port_block(1), free_port_block(1)
    while fz_port == cz_port:
        fz_port = free_port_block(1)
    cz_env = {"PORT": str(cz_port), "SANDBOX_PORT_BASE": str(free_port_block(runner.PORT_BLOCK)),
              "PARTNER_URL": f"http://127.0.0.1:{fz_port}/api/v1",
              "DATABASE_URL": empty_database("partners_cz") if pg
              else f"sqlite:///{tmp_path / 'cz.sqlite'}"}
    fz_env = {"PORT": str(fz_port), "SANDBOX_PORT_BASE": str(free_port_block(runner.PORT_BLOCK)),
              "PARTNER_DEMO": "1", "PARTNER_URL": f"http://127.0.0.1:{cz_port}/api/v1",
              "DATABASE_URL": empty_database("partners_fz") if pg
              else f"sqlite:///{tmp_path / 'fz.sqlite'}"}
    procs = []
    try:
        fz, fz_url, fz_banner = _start(fz_env)
        procs.append(fz)
        cz, cz_url, cz_banner = _start(cz_env)
        procs.append(cz)
        yield City(cz_url, cz_banner), City(fz_url, fz_banner)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


class City:
    def __init__(self, url: str, banner: str):
        self.url, self.api, self.banner = url, f"{url}/api/v1", banner
        self.tokens: dict[str, str] = {}
        self.keys = iter(range(1, 10_000))

    def login(self, openid: str) -> str:
        if openid not in self.tokens:
            resp = requests.post(f"{self.api}/auth/wechat-login",
                                 json={"code": f"sandbox:{openid}"}, timeout=10)
            resp.raise_for_status()
            self.tokens[openid] = resp.json()["access_token"]
        return self.tokens[openid]

    def call(self, method, path, who, json=None, expect=200, **kwargs):
        headers = {"Authorization": f"Bearer {self.login(who)}"}
        if method == "POST":
            headers["Idempotency-Key"] = f"e2e-partner-{who}-{next(self.keys)}"
        resp = requests.request(method, f"{self.api}{path}", headers=headers, json=json,
                                timeout=30, **kwargs)
        assert resp.status_code == expect, (method, path, resp.status_code, resp.text)
        return resp.json() if "json" in resp.headers.get("Content-Type", "") else resp

    def wait_for(self, what, check, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.5)
        pytest.fail(f"timed out waiting for {what}")


def _approve_all(cz: City, trip_id: int) -> None:
    for approver in ("demo-approver", "demo-platform-approver"):
        task = cz.wait_for(f"{approver}'s task", lambda: next(
            (t for t in cz.call("GET", "/approvals?state=pending", approver)["items"]
             if t["trip_id"] == trip_id), None))
        cz.call("POST", f"/approvals/{task['id']}/approve", approver, {"comment": "同意"})
    assert cz.call("GET", f"/trips/{trip_id}", "demo-traveler")["state"] in (
        "approved", "dispatched")


def test_changzhou_traveler_rides_a_fuzhou_vehicle_and_both_statements_agree(two_cities):
    cz, fz = two_cities
    assert "fz-dispatcher" in fz.banner and "福州市" in fz.banner
    fuzhou = next(p for p in cz.call("GET", "/admin/partners", "demo-admin")["items"]
                  if p["code"] == "fuzhou")
    changzhou = next(p for p in fz.call("GET", "/admin/partners", "fz-admin")["items"]
                     if p["code"] == "changzhou")
    assert DEMO_SECRET not in json.dumps(fuzhou) and fuzhou["secret_hint"].endswith("2026")

    # A trip inside Changzhou is not offered the partner's fleet at all.
    depart = datetime.now(timezone.utc) + timedelta(hours=1)
    trip_body = {"purpose": {"category": "meeting", "text": "闽苏协作会议"},
                 "passengers": [{"name": "张明"}], "depart_at": depart.isoformat(),
                 "return_at": (depart + timedelta(hours=2)).isoformat(),
                 "vehicle_class": "sedan"}
    local = cz.call("POST", "/trips", "demo-traveler", {**trip_body, "stops": CHANGZHOU_STOPS},
                    expect=201)
    local_quotes = cz.call("POST", f"/trips/{local['id']}/quotes", "demo-traveler", {})
    assert "partner-fuzhou" not in [p["name"] for p in local_quotes["providers"]]

    # To Fuzhou: Fuzhou's fleet, priced by Fuzhou's own tariff (its 36.00 sedan block).
    trip = cz.call("POST", "/trips", "demo-traveler", {**trip_body, "stops": FUZHOU_STOPS},
                   expect=201)
    assert trip["cross_region"] is True
    quotes = cz.call("POST", f"/trips/{trip['id']}/quotes", "demo-traveler", {})
    status = next(p for p in quotes["providers"] if p["name"] == "partner-fuzhou")
    assert status["status"] == "ok", status
    offer = next(o for o in quotes["offers"] if o["channel"] == "partner")
    assert offer["vehicle_class"] == "sedan" and offer["price"] == "36.00", offer
    cz.call("POST", f"/trips/{trip['id']}/submit", "demo-traveler", {"offer_id": offer["id"]})
    _approve_all(cz, trip["id"])

    # Booked with Fuzhou by the worker: a partner trip in Fuzhou's dispatch queue.
    order = cz.wait_for("the booking", lambda: (cz.call(
        "GET", f"/trips/{trip['id']}/dispatch", "demo-traveler")["provider_order"] or {}
    ).get("order_id"))
    assert order.startswith("PO")
    queue = fz.call("GET", "/dispatch/queue", "fz-dispatcher")["items"]
    fz_trip = next(t for t in queue if t["stops"][0]["name"] == "福州火车站")
    assert fz_trip["partner"]["code"] == "changzhou" and fz_trip["partner"]["order_id"] == order
    assert fz_trip["partner"]["approval_ref"] == f"trip-{trip['id']}"
    assert fz_trip["unit_id"] == changzhou["unit_id"]
    fz_detail = fz.call("GET", f"/trips/{fz_trip['id']}", "fz-dispatcher")
    assert fz_detail["state"] == "approved" and fz_detail["channel"] == "fleet"
    assert any("审批单号" in (e["comment"] or "") for e in fz_detail["history"])

    assigned = fz.call("POST", f"/trips/{fz_trip['id']}/assign", "fz-dispatcher", {})
    vehicle = assigned["vehicle"]
    assert vehicle["plate"].startswith("闽A")
    cz.wait_for("the assigned callback", lambda: cz.call(
        "GET", f"/trips/{trip['id']}/dispatch", "demo-traveler")["provider_order"]["plate"]
        == vehicle["plate"])

    odometer = Decimal(str(vehicle["odometer_km"]))
    fz.call("POST", f"/trips/{fz_trip['id']}/start", "fz-driver", {"odometer_km": str(odometer)})
    cz.wait_for("in progress", lambda: cz.call(
        "GET", f"/trips/{trip['id']}", "demo-traveler")["state"] == "in_progress")
    fz.call("POST", f"/trips/{fz_trip['id']}/finish", "fz-driver",
            {"odometer_km": str(odometer), "tolls": "10.00", "parking": "0.00"})

    # The charge on both sides: Fuzhou's tariff (36.00 block + 10.00 tolls).
    fz_charge = fz.call("GET", f"/trips/{fz_trip['id']}/charge", "fz-finance")
    assert fz_charge["total"] == "46.00" and fz_charge["final"] is True
    cz.wait_for("the completed callback", lambda: cz.call(
        "GET", f"/trips/{trip['id']}", "demo-traveler")["state"] == "completed")
    cz_charge = cz.call("GET", f"/trips/{trip['id']}/charge", "demo-traveler")
    assert cz_charge["total"] == "46.00" and cz_charge["supplier"] == "partner-fuzhou"
    cz.call("POST", f"/trips/{trip['id']}/confirm", "demo-traveler")

    # Both monthly partner statements agree to the cent, line by line.
    period = clock.local(datetime.now(timezone.utc)).strftime("%Y-%m")
    cz.call("POST", "/settlements", "demo-finance", {"period": period})
    fz.call("POST", "/settlements", "fz-finance", {"period": period})
    ours = cz.call("GET", f"/admin/partners/{fuzhou['id']}/statements?period={period}",
                   "demo-finance")["outbound"]
    theirs = fz.call("GET", f"/admin/partners/{changzhou['id']}/statements?period={period}",
                     "fz-finance")["inbound"]
    assert ours["total"] == theirs["total"] == "46.00"
    assert [(x["order_id"], x["amount"]) for x in ours["lines"]] == \
        [(x["order_id"], x["amount"]) for x in theirs["lines"]] == [(order, "46.00")]
    assert ours["statements"][0]["supplier"] == "partner-fuzhou"
    assert theirs["statements"][0]["unit_name"] == changzhou["unit_name"]

    # Reconciliation: Fuzhou's inbound CSV against Changzhou's outbound lines.
    csv = fz.call("GET", f"/admin/partners/{changzhou['id']}/statements/export"
                  f"?period={period}&direction=inbound", "fz-finance")
    result = cz.call("POST", f"/admin/partners/{fuzhou['id']}/reconciliation", "demo-finance",
                     data={"period": period, "direction": "outbound"},
                     files={"file": ("fuzhou.csv", csv.content, "text/csv")})
    assert result["matched"] == 1 and not result["amount_mismatches"]
    assert not result["missing_on_our_side"] and not result["missing_on_theirs"]

    # Visitors' savings, one trip seen from both sides: Fuzhou's tariff against Fuzhou's
    # rental market (its own reference, carried in the bill to Changzhou).
    reference = fz_charge["market_reference"]
    assert Decimal(reference) > Decimal("46.00")
    assert cz.call("GET", f"/trips/{trip['id']}/charge", "demo-traveler")[
        "market_reference"] == reference
    visitors = fz.call("GET", f"/reports/visitor-savings?period={period}", "fz-finance")
    travellers = cz.call("GET", f"/reports/visitor-savings?period={period}&direction=outbound",
                         "demo-supervisor")
    assert [(r["partner_code"], r["trips"], r["market_reference"], r["charged"])
            for r in visitors["items"]] == [("changzhou", 1, reference, "46.00")]
    assert [(r["partner_code"], r["trips"], r["market_reference"], r["charged"])
            for r in travellers["items"]] == [("fuzhou", 1, reference, "46.00")]
    assert visitors["totals"]["savings"] == travellers["totals"]["savings"]


def test_forged_and_replayed_partner_requests_are_refused(two_cities):
    cz, fz = two_cities
    body = json.dumps({"stops": FUZHOU_STOPS, "passengers": 1, "vehicle_class": "sedan",
                       "depart_at": (datetime.now(timezone.utc) + timedelta(hours=3)).isoformat(),
                       "return_at": (datetime.now(timezone.utc) + timedelta(hours=5)).isoformat(),
                       }).encode()
    url = f"{fz.api}/partner/v1/quotes"
    path = "/partner/v1/quotes"

    forged = sign_request("POST", path, body, "not-the-partner-key-at-all-0000", "changzhou")
    resp = requests.post(url, data=body, headers=forged, timeout=10)
    assert resp.status_code == 401 and resp.json()["code"] == "bad_signature"

    unknown = sign_request("POST", path, body, DEMO_SECRET, "rizhao")
    assert requests.post(url, data=body, headers=unknown, timeout=10).json()["code"] == \
        "unknown_partner"

    # A signature is bound to its route: the same headers on another path do not hold.
    moved = sign_request("POST", "/partner/v1/orders", body, DEMO_SECRET, "changzhou")
    resp = requests.post(url, data=body, headers=moved, timeout=10)
    assert resp.status_code == 401 and resp.json()["code"] == "bad_signature"

    good = sign_request("POST", path, body, DEMO_SECRET, "changzhou")
    first = requests.post(url, data=body, headers=good, timeout=10)
    assert first.status_code == 200 and first.json()["quotes"], first.text
    replay = requests.post(url, data=body, headers=good, timeout=10)
    assert replay.status_code == 401 and replay.json()["code"] == "replayed_request"

    stale = sign_request("POST", path, body, DEMO_SECRET, "changzhou", now=time.time() - 600)
    resp = requests.post(url, data=body, headers=stale, timeout=10)
    assert resp.status_code == 401 and resp.json()["code"] == "stale_timestamp"

    # Callbacks claiming to come from Fuzhou but not signed with its key change nothing.
    forged_callback = {"id": "PO000001", "order_ref": "T1-x", "state": "completed"}
    raw = json.dumps(forged_callback).encode()
    from providers.http import sign_webhook
    resp = requests.post(f"{cz.api}/webhooks/partner-fuzhou", data=raw, timeout=10,
                         headers={"Content-Type": "application/json",
                                  **sign_webhook("msg_forged", raw, "wrong-key-wrong-key-wrong")})
    assert resp.status_code == 401


def test_a_partner_booking_cancelled_in_changzhou_is_cancelled_in_fuzhou(two_cities):
    cz, fz = two_cities
    depart = datetime.now(timezone.utc) + timedelta(hours=5)
    trip = cz.call("POST", "/trips", "demo-traveler", {
        "purpose": {"category": "inspection", "text": "对口调研"}, "passengers": [{"name": "张明"}],
        "stops": FUZHOU_STOPS, "depart_at": depart.isoformat(),
        "return_at": (depart + timedelta(hours=3)).isoformat(), "vehicle_class": "sedan"},
        expect=201)
    quotes = cz.call("POST", f"/trips/{trip['id']}/quotes", "demo-traveler", {})
    offer = next(o for o in quotes["offers"] if o["channel"] == "partner")
    cz.call("POST", f"/trips/{trip['id']}/submit", "demo-traveler", {"offer_id": offer["id"]})
    _approve_all(cz, trip["id"])
    order = cz.wait_for("the booking", lambda: (cz.call(
        "GET", f"/trips/{trip['id']}/dispatch", "demo-traveler")["provider_order"] or {}
    ).get("order_id"))
    fz_trip = next(t for t in fz.call("GET", "/dispatch/queue", "fz-dispatcher")["items"]
                   if (t.get("partner") or {}).get("order_id") == order)

    cz.call("POST", f"/trips/{trip['id']}/cancel", "demo-traveler", {"reason": "行程取消"})
    assert fz.call("GET", f"/trips/{fz_trip['id']}", "fz-dispatcher")["state"] == "cancelled"
    assert fz_trip["id"] not in [t["id"] for t in
                                 fz.call("GET", "/dispatch/queue", "fz-dispatcher")["items"]]
    dispatch = cz.call("GET", f"/trips/{trip['id']}/dispatch", "demo-traveler")
    assert dispatch["provider_order"]["state"] == "cancelled"
    assert dispatch["cancellation_fee"] in (None, "0.00")
