"""What the dispatch console needs beside assignment: names and phones in the queue, the
vehicles and drivers a dispatcher may choose, and the per-day timeline of assignments."""
from datetime import timedelta

from app import clock
from app.trips.models import TripState
from tests.dispatch.conftest import T0
from tests.factories import ok


def test_queue_carries_applicant_name_phone_and_passenger_phones(api, make_trip, now):
    trip_id = make_trip(passengers=0)
    from app import db
    from app.trips.models import Trip
    with api.client.application.app_context():
        trip = db.session.get(Trip, trip_id)
        trip.passengers = [{"name": "张三", "phone": "13912345678"}]
        db.session.commit()
        db.session.remove()
    items = ok(api.get("/dispatch/queue", "demo-dispatcher"))["items"]
    mine = next(t for t in items if t["id"] == trip_id)
    assert mine["applicant"] == {"id": mine["applicant_id"], "name": "张明",
                                 "phone": "13800000001"}
    assert mine["passengers"] == [{"name": "张三", "phone": "13912345678"}]
    assert mine["unit_name"] == "常州市发展和改革委员会"


def test_a_failed_provider_booking_is_in_the_queue_with_its_reason(api, make_trip, now):
    trip_id = make_trip(channel="rental", dispatch_issue="租车公司无可用车辆")
    items = ok(api.get("/dispatch/queue", "demo-dispatcher"))["items"]
    failed = next(t for t in items if t["id"] == trip_id)
    assert failed["dispatch_issue"] == "租车公司无可用车辆"
    assert "switch_to_fleet" in failed["allowed_actions"]


def test_passenger_phone_is_validated(api, now):
    from tests.factories import trip_request
    body = trip_request()
    body["passengers"] = [{"name": "李四", "phone": "12345"}]
    resp = api.post("/trips", "demo-traveler", json=body)
    assert resp.status_code == 422
    assert "passengers" in resp.get_json()["errors"]


def test_dispatchers_list_the_pooled_vehicles_and_drivers(api, fleet, now):
    vehicles = ok(api.get("/dispatch/vehicles", "demo-dispatcher"))
    assert {v["plate"] for v in vehicles} == {v["plate"] for v in fleet["vehicles"]}
    assert all(v["pooled"] and v["status"] != "retired" for v in vehicles)
    assert {"vehicle_class", "seats", "nev", "odometer_km", "unit_name"} <= set(vehicles[0])
    drivers = ok(api.get("/dispatch/drivers", "demo-dispatcher"))
    assert {d["name"] for d in drivers} == set(fleet["drivers"])
    assert all(d["license_class"] for d in drivers)
    for path in ("/dispatch/vehicles", "/dispatch/drivers", "/dispatch/timeline"):
        assert api.get(path, "demo-traveler").status_code == 403
        assert api.get(path, "demo-finance").status_code == 403


def test_a_retired_vehicle_leaves_the_list_unless_asked(api, fleet, now):
    victim = fleet["vehicles"][-1]
    assert api.delete(f"/admin/vehicles/{victim['id']}", "demo-admin").status_code == 204
    plates = {v["plate"] for v in ok(api.get("/dispatch/vehicles", "demo-dispatcher"))}
    assert victim["plate"] not in plates
    everything = ok(api.get("/dispatch/vehicles?include_inactive=true", "demo-dispatcher"))
    assert victim["plate"] in {v["plate"] for v in everything}


def test_timeline_shows_the_days_assignments_on_vehicle_and_driver(api, make_trip, fleet, now):
    tomorrow = clock.local_date(T0 + timedelta(days=1)).isoformat()
    trip_id = make_trip()  # tomorrow 09:00 for three hours
    vehicle = fleet["sedans"][0]
    driver_id = fleet["drivers"]["钱进"]
    ok(api.post(f"/trips/{trip_id}/assign", "demo-dispatcher",
                json={"vehicle_id": vehicle["id"], "driver_id": driver_id}))

    day = ok(api.get(f"/dispatch/timeline?date={tomorrow}", "demo-dispatcher"))
    assert day["date"] == tomorrow
    assert day["starts_at"].endswith("T00:00:00+08:00") and day["starts_at"].startswith(tomorrow)
    row = next(v for v in day["vehicles"] if v["id"] == vehicle["id"])
    assert [b["trip_id"] for b in row["bars"]] == [trip_id]
    bar = row["bars"][0]
    assert bar["driver_name"] == "钱进" and bar["plate"] == vehicle["plate"]
    assert bar["applicant"]["name"] == "张明" and bar["trip_state"] == "dispatched"
    assert bar["starts_at"].startswith(f"{tomorrow}T09:00:00+08:00")
    driver_row = next(d for d in day["drivers"] if d["id"] == driver_id)
    assert [b["trip_id"] for b in driver_row["bars"]] == [trip_id]
    others = [v for v in day["vehicles"] if v["id"] != vehicle["id"]]
    assert all(not v["bars"] for v in others)

    # Not on the day before, and gone once unassigned.
    today = ok(api.get(f"/dispatch/timeline?date={clock.local_date(T0).isoformat()}",
                       "demo-dispatcher"))
    assert all(not v["bars"] for v in today["vehicles"])
    ok(api.post(f"/trips/{trip_id}/unassign", "demo-dispatcher", json={"reason": "改派"}))
    again = ok(api.get(f"/dispatch/timeline?date={tomorrow}", "demo-dispatcher"))
    assert all(not v["bars"] for v in again["vehicles"])


def test_timeline_defaults_to_today_and_validates_the_date(api, now):
    today = ok(api.get("/dispatch/timeline", "demo-dispatcher"))
    assert today["date"] == clock.local_date(T0).isoformat()
    bad = api.get("/dispatch/timeline?date=2026-13-01", "demo-dispatcher")
    assert bad.status_code == 422 and "date" in str(bad.get_json()["errors"])
