"""Partner platforms in one app: the admin registers them (keys never answered back,
audited), their signed orders become approved partner trips in the dispatch queue
(idempotent by order_ref), cancel sends a callback, another partner's order is not found,
and the quote fan-out asks a partner only for a trip whose destination lies in its area."""
from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from app import db, supply
from app.audit import AuditEntry
from app.partners.models import CallbackState, Partner, PartnerCallback, PartnerOrder
from app.trips.models import Trip
from providers.base import Stop
from providers.partner import sign_request
from tests import factories

KEY = "test-partner-key-0123456789abcdef"
FUZHOU = {"code": "fuzhou", "name": "福州市公务用车平台", "city": "福州市",
          "service_area": {"south": 25.15, "west": 118.08, "north": 26.65, "east": 120.50},
          "base_url": "http://127.0.0.1:9/api/v1", "our_id": "changzhou", "secret": KEY}
IN_CHANGZHOU = [{"name": "常州站", "lat": 31.78, "lng": 119.97},
                {"name": "市政府", "lat": 31.81, "lng": 119.97}]


@pytest.fixture
def read(app):
    """Database reads in an app context of their own (a request must not share ``g``)."""
    @contextmanager
    def reading():
        with app.app_context():
            try:
                yield db.session
            finally:
                db.session.remove()
    return reading


def register(api, **over):
    return api.post("/admin/partners", "demo-admin", json={**FUZHOU, **over})


def signed(api, method, path, body=None, *, key=KEY, partner="fuzhou"):
    raw = json.dumps(body).encode() if body is not None else b""
    headers = sign_request(method, f"/partner/v1{path}", raw, key, partner)
    return api.client.open(f"/api/v1/partner/v1{path}", method=method, data=raw or None,
                           headers=headers)


def order_body(ref="FZ-1", **over):
    depart = datetime.now(timezone.utc) + timedelta(hours=1)
    return {"stops": IN_CHANGZHOU, "depart_at": depart.isoformat(),
            "return_at": (depart + timedelta(hours=2)).isoformat(), "passengers": 2,
            "vehicle_class": "sedan", "order_ref": ref, "approval_ref": "FZ-APPROVAL-7",
            "contact": {"name": "林华", "phone": "13950000099"}, **over}


def test_admin_registers_a_partner_keeping_its_key_to_itself(api, read):
    resp = register(api)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert KEY not in json.dumps(body) and body["secret_hint"] == "…" + KEY[-4:]
    assert body["provider"] == "partner-fuzhou" and body["unit_name"] == "福州市（合作城市）"
    assert body["service_area"]["north"] == 26.65
    with read() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.entity == "partners",
                                                        AuditEntry.entity_id == body["id"]))
        assert entry.action == "created" and KEY not in json.dumps(entry.data)

    assert register(api).status_code == 409  # the code is taken
    assert api.get("/admin/partners", "demo-traveler").status_code == 403
    bad = register(api, code="rizhao", service_area={**FUZHOU["service_area"], "south": 27.0})
    assert bad.status_code == 422 and "service_area" in bad.get_json()["errors"]

    rotated = api.patch(f"/admin/partners/{body['id']}", "demo-admin",
                        json={"secret": "a-brand-new-partner-key-9999"})
    assert rotated.status_code == 200 and rotated.get_json()["secret_hint"] == "…9999"
    with read() as session:
        updated = session.scalar(select(AuditEntry).where(
            AuditEntry.entity == "partners", AuditEntry.action == "updated"))
        assert updated.data["key_rotated"] is True and "9999" not in json.dumps(updated.data)


def test_a_partner_order_is_an_approved_trip_in_the_dispatch_queue_once(api, read):
    register(api)
    first = signed(api, "POST", "/orders", order_body())
    assert first.status_code == 201, first.get_json()
    order = first.get_json()
    assert order["state"] == "created" and order["trip_state"] == "approved"
    again = signed(api, "POST", "/orders", order_body(passengers=1))
    assert again.status_code == 200 and again.get_json()["id"] == order["id"]

    with read() as session:
        partner = session.scalar(select(Partner).where(Partner.code == "fuzhou"))
        trips = session.scalars(select(Trip).where(Trip.unit_id == partner.unit_id)).all()
        assert len(trips) == 1 and trips[0].passenger_count == 2
        trip_id = trips[0].id
        assert any("FZ-APPROVAL-7" in event.comment for event in trips[0].events)
    queue = api.get("/dispatch/queue", "demo-dispatcher").get_json()["items"]
    item = next(t for t in queue if t["id"] == trip_id)
    assert item["partner"] == {"code": "fuzhou", "name": "福州市公务用车平台",
                               "order_id": order["id"], "order_ref": "FZ-1",
                               "approval_ref": "FZ-APPROVAL-7"}
    assert item["state"] == "approved" and item["channel"] == "fleet"

    status = signed(api, "GET", f"/orders/{order['id']}")
    assert status.status_code == 200 and status.get_json()["order_ref"] == "FZ-1"
    assert signed(api, "GET", "/orders/by-ref/FZ-1").get_json()["id"] == order["id"]
    assert signed(api, "GET", "/orders/PO999999").status_code == 404

    missing = signed(api, "POST", "/orders", {k: v for k, v in order_body("FZ-2").items()
                                              if k != "approval_ref"})
    assert missing.status_code == 422 and "approval_ref" in missing.get_json()["errors"]


def test_cancelling_a_partner_order_owes_the_partner_a_callback(api, read):
    register(api)
    order = signed(api, "POST", "/orders", order_body()).get_json()
    resp = signed(api, "POST", f"/orders/{order['id']}/cancel", {"reason": "会议改期"})
    assert resp.status_code == 200 and resp.get_json()["state"] == "cancelled"
    with read() as session:
        callbacks = session.scalars(select(PartnerCallback)).all()
        assert [c.payload["state"] for c in callbacks] == ["cancelled"]
        assert callbacks[0].state == CallbackState.PENDING
    again = signed(api, "POST", f"/orders/{order['id']}/cancel", {"reason": "会议改期"})
    assert again.status_code == 200
    with read() as session:
        assert len(session.scalars(select(PartnerCallback)).all()) == 1


def test_another_partner_neither_sees_the_order_nor_signs_with_a_wrong_key(api):
    register(api)
    register(api, code="rizhao", name="日照市公务用车平台", city="日照市",
             secret="rizhao-partner-key-0123456789",
             service_area={"south": 35.0, "west": 118.5, "north": 35.8, "east": 119.7})
    order = signed(api, "POST", "/orders", order_body()).get_json()
    other = signed(api, "GET", f"/orders/{order['id']}", key="rizhao-partner-key-0123456789",
                   partner="rizhao")
    assert other.status_code == 404
    forged = signed(api, "GET", f"/orders/{order['id']}", key="rizhao-partner-key-0123456789")
    assert forged.status_code == 401 and forged.get_json()["code"] == "bad_signature"
    api.patch("/admin/partners/" + str(order_partner_id(api)), "demo-admin",
              json={"enabled": False})
    disabled = signed(api, "GET", f"/orders/{order['id']}")
    assert disabled.status_code == 401 and disabled.get_json()["code"] == "unknown_partner"


def order_partner_id(api) -> int:
    items = api.get("/admin/partners", "demo-admin").get_json()["items"]
    return next(p["id"] for p in items if p["code"] == "fuzhou")


def test_the_fan_out_asks_a_partner_only_where_its_area_holds_the_destination(api, app):
    register(api)
    with app.app_context():
        local = supply.quoting(factories.quote_request())
        assert "partner-fuzhou" not in local
        to_fuzhou = factories.quote_request(stops=(Stop("常州站", 31.78, 119.97),
                                                   Stop("福州站", 26.11, 119.32)))
        assert supply.quoting(to_fuzhou)["partner-fuzhou"].channel == "partner"
        # Leaving Fuzhou for Changzhou is not a Fuzhou trip.
        back = factories.quote_request(stops=(Stop("福州站", 26.11, 119.32),
                                              Stop("常州站", 31.78, 119.97)))
        assert "partner-fuzhou" not in supply.quoting(back)
        db.session.remove()


def test_the_same_order_placed_twice_at_once_makes_one_trip(api, read):
    register(api)
    with factories.inserted_meanwhile(PartnerOrder):
        lost = signed(api, "POST", "/orders", order_body())
    assert lost.status_code == 409 and lost.get_json()["code"] == "order_in_progress"
    with read() as session:  # nothing of the losing request was kept
        assert session.scalars(select(PartnerOrder)).all() == []
        unit_id = session.scalar(select(Partner.unit_id))
        assert session.scalars(select(Trip).where(Trip.unit_id == unit_id)).all() == []
    assert signed(api, "POST", "/orders", order_body()).status_code == 201
