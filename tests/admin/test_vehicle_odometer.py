"""An admin corrects a vehicle's wrong odometer reading (audited); drivers then carry on from
the corrected reading."""
from datetime import timedelta

from sqlalchemy import select

from app.accounts.models import Vehicle
from app.audit import AuditEntry
from tests.admin.test_admin_scope import district_admin  # noqa: F401
from tests.dispatch.conftest import T0, drive, fleet, in_db, make_trip, now, travel  # noqa: F401
from tests.factories import ok


def test_admin_corrects_a_poisoned_odometer_and_driving_goes_on(api, now, fleet, make_trip,
                                                               drive, travel, in_db):
    vehicle = fleet["sedans"][0]
    with in_db() as s:   # a bad reading recorded before plausibility was checked
        s.get(Vehicle, vehicle["id"]).odometer_km = 9999999
    trip_id = make_trip(depart_at=T0 + timedelta(hours=1))
    drive(trip_id, until="dispatched")
    body = {"odometer_km": str(vehicle["odometer_km"] + 5)}
    stuck = api.post(f"/trips/{trip_id}/start", as_="demo-driver", json=body)
    assert stuck.status_code == 422 and stuck.get_json()["code"] == "odometer_backwards"

    fixed = ok(api.post(f"/admin/vehicles/{vehicle['id']}/odometer", as_="demo-admin",
                        json={"odometer_km": str(vehicle["odometer_km"]),
                              "reason": "出车读数误录为9999999"}))
    assert fixed["odometer_km"] == str(vehicle["odometer_km"])
    with in_db() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.entity == "vehicles",
                                                  AuditEntry.entity_id == vehicle["id"],
                                                  AuditEntry.action == "odometer_corrected"))
        assert entry.actor_id is not None
        assert entry.data == {"from": "9999999.0", "to": str(vehicle["odometer_km"]),
                              "reason": "出车读数误录为9999999"}
    # the corrected reading counts as read now: the next reading is judged against it
    travel(T0 + timedelta(minutes=30))
    too_far = api.post(f"/trips/{trip_id}/start", as_="demo-driver",
                       json={"odometer_km": str(vehicle["odometer_km"] + 76)})
    assert too_far.status_code == 422 and too_far.get_json()["code"] == "odometer_implausible"
    ok(api.post(f"/trips/{trip_id}/start", as_="demo-driver", json=body))


def test_odometer_correction_needs_a_reason_an_admin_and_the_scope(api, fleet,
                                                                   district_admin):
    path = f"/admin/vehicles/{fleet['sedans'][0]['id']}/odometer"
    no_reason = api.post(path, as_="demo-admin", json={"odometer_km": "100.0"})
    assert no_reason.status_code == 422 and "reason" in no_reason.get_json()["errors"]
    negative = api.post(path, as_="demo-admin", json={"odometer_km": "-1", "reason": "更正"})
    assert negative.status_code == 422 and "odometer_km" in negative.get_json()["errors"]
    body = {"odometer_km": "100.0", "reason": "更正"}
    assert api.post(path, as_="demo-dispatcher", json=body).status_code == 403
    # the pooled fleet sits at the city: a district admin does not see it
    assert api.post(path, as_="wujin-admin", json=body).status_code == 404
    unchanged = ok(api.get(f"/admin/vehicles/{fleet['sedans'][0]['id']}", as_="demo-admin"))
    assert unchanged["odometer_km"] == str(fleet["sedans"][0]["odometer_km"])
