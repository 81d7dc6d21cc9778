"""Vehicles carry their positioning device and home depot, kept by admins (audited)."""
from sqlalchemy import select

from app.audit import AuditEntry
from tests.factories import ok


def test_admin_sees_and_edits_device_ids_and_depots(api, in_db):
    vehicles = ok(api.get("/admin/vehicles", as_="demo-admin", query_string={"limit": 100}))
    first, second = sorted(vehicles["items"], key=lambda v: v["id"])[:2]
    assert first["device_id"] and first["device_id"] != second["device_id"]
    assert (first["depot_lat"], first["depot_lng"]) == (31.8106, 119.9741)
    changed = ok(api.patch(f"/admin/vehicles/{first['id']}", as_="demo-admin", json={
        "device_id": "868120301234567", "depot_lat": 31.70, "depot_lng": 119.94}))
    assert (changed["device_id"], changed["depot_lat"]) == ("868120301234567", 31.70)
    taken = api.patch(f"/admin/vehicles/{second['id']}", as_="demo-admin",
                      json={"device_id": "868120301234567"})
    assert (taken.status_code, taken.get_json()["code"]) == (409, "device_taken")
    bad = api.patch(f"/admin/vehicles/{second['id']}", as_="demo-admin",
                    json={"device_id": "有空格 的编号", "depot_lat": 95})
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"device_id", "depot_lat"}
    with in_db() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.entity == "vehicles",
                                                   AuditEntry.entity_id == first["id"])
                          .order_by(AuditEntry.id.desc())).first()
        assert entry.action == "updated" and entry.data["device_id"] == "868120301234567"


def test_only_admins_issue_device_keys_and_the_key_is_shown_once(api, in_db):
    vehicle = ok(api.get("/admin/vehicles", as_="demo-admin"))["items"][0]
    assert api.post(f"/admin/vehicles/{vehicle['id']}/device-key",
                    as_="demo-dispatcher").status_code == 403
    issued = ok(api.post(f"/admin/vehicles/{vehicle['id']}/device-key", as_="demo-admin"), 201)
    assert len(issued["key"]) >= 32 and issued["device_id"] == vehicle["device_id"]
    assert issued["key"] not in str(ok(api.get(f"/admin/vehicles/{vehicle['id']}",
                                               as_="demo-admin")))
    with in_db() as s:
        assert s.scalar(select(AuditEntry.action).where(
            AuditEntry.entity_id == vehicle["id"], AuditEntry.entity == "vehicles")
            .order_by(AuditEntry.id.desc())) == "device_key_issued"
