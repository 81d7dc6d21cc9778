"""The running demo: a ride-hailing trip goes to completed through sandbox callbacks
(the devserver's worker books it, the sandbox calls the devserver's webhook back), with the
T3-style provider and with the DiDi-shaped one (whose notifies make the app re-query)."""
import re
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import requests

from tests.e2e.test_devserver import devserver  # noqa: F401  (the fixture)

STOPS = [{"name": "市民广场", "lat": 31.81, "lng": 119.97},
         {"name": "武进区政府", "lat": 31.70, "lng": 119.94}]


def _until(fetch, done, timeout=30.0):
    """Poll ``fetch`` until ``done(result)``: the worker and callbacks run on their own."""
    deadline = time.monotonic() + timeout
    while True:
        result = fetch()
        if done(result) or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_ride_hailing_trip_completes_through_callbacks(devserver):  # noqa: F811
    url, banner, _ = devserver
    api = f"{url}/api/v1"

    def login(openid):
        resp = requests.post(f"{api}/auth/wechat-login", json={"code": f"sandbox:{openid}"},
                             timeout=10)
        return {"Authorization": f"Bearer {resp.json()['access_token']}"}

    traveler = login("demo-traveler")
    for provider in ("ridehail", "didi"):
        sandbox = re.search(rf"Sandbox {provider}: (\S+)", banner).group(1)
        depart = datetime.now(timezone.utc) + timedelta(days=1)
        trip = requests.post(f"{api}/trips", headers=traveler, timeout=10, json={
            "purpose": {"category": "meeting", "text": "市政府专题会议"},
            "passengers": [{"name": "张明"}], "stops": STOPS, "depart_at": depart.isoformat(),
            "return_at": (depart + timedelta(hours=3)).isoformat(),
            "vehicle_class": None}).json()
        quotes = requests.post(f"{api}/trips/{trip['id']}/quotes", headers=traveler, json={},
                               timeout=30).json()
        offer = next(o for o in quotes["offers"] if o["provider"] == provider and o["compliant"])
        resp = requests.post(f"{api}/trips/{trip['id']}/submit", headers=traveler, timeout=10,
                             json={"offer_id": offer["id"]})
        assert resp.status_code == 200, resp.text
        for approver in ("demo-approver", "demo-platform-approver"):
            headers = login(approver)
            for task in requests.get(f"{api}/approvals?state=pending", headers=headers,
                                     timeout=10).json()["items"]:
                if task["trip_id"] == trip["id"]:
                    requests.post(f"{api}/approvals/{task['id']}/approve", headers=headers,
                                  json={"comment": "同意"}, timeout=10).raise_for_status()

        def detail():
            return requests.get(f"{api}/trips/{trip['id']}", headers=traveler,
                                timeout=10).json()

        assert _until(detail, lambda t: t["state"] == "dispatched")["state"] == "dispatched"
        order = requests.get(f"{api}/trips/{trip['id']}/dispatch", headers=traveler,
                             timeout=10).json()["provider_order"]
        assert order["provider"] == provider and order["state"] == "created"
        order_id = order["order_id"]
        for to in ("assigned", "in_trip", "completed"):
            requests.post(f"{sandbox}/__sandbox/orders/{order_id}/advance", json={"to": to},
                          timeout=10).raise_for_status()
        final = _until(detail, lambda t: t["state"] == "completed")
        assert final["state"] == "completed", final
        order = requests.get(f"{api}/trips/{trip['id']}/dispatch", headers=traveler,
                             timeout=10).json()["provider_order"]
        assert order["plate"] and order["bill"] and order["state"] == "completed"
        # The provider's final bill became the trip's charge (SPEC §5.3), estimate beside it.
        charge = requests.get(f"{api}/trips/{trip['id']}/charge", headers=traveler, timeout=10)
        assert charge.status_code == 200, charge.text
        charge = charge.json()
        bill_total = sum(Decimal(line["amount"]) for line in order["bill"])
        assert bill_total > 0
        assert Decimal(charge["total"]) == bill_total
        assert sum(Decimal(line["amount"]) for line in charge["lines"]) == bill_total
        assert charge["supplier"] == provider and charge["order_id"] == order["order_id"]
        assert Decimal(charge["estimate"]) == Decimal(offer["price"])
