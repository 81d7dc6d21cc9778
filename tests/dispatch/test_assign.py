"""Assigning vehicles and drivers: auto-assign ranking, double booking refused, the 30-minute
buffer, reassign and unassign, the queue and its scope."""
from datetime import timedelta

import pytest

from app.dispatch.models import Assignment
from app.trips.models import Channel, Purpose, Trip, TripState

from tests.factories import ok

from .conftest import T0

DISPATCHER = "demo-dispatcher"


def assign(api, trip_id, **body):
    return api.post(f"/trips/{trip_id}/assign", as_=DISPATCHER, json=body)


def test_auto_assign_takes_the_least_used_nev_and_the_least_busy_driver(
        api, now, fleet, make_trip, past_run):
    nev_sedans = [v["id"] for v in fleet["sedans"] if v["nev"]]
    assert len(nev_sedans) == 4
    minibus = next(v["id"] for v in fleet["vehicles"] if v["class"] == "minibus")
    drivers = list(fleet["drivers"].values())
    monday = T0 - timedelta(days=1)  # the trip departs on Wednesday of the same week
    # This year's distance: the third NEV is least used (last year's 9000 km do not count).
    for vehicle_id, km in zip(nev_sedans, [300, 200, 20, 150]):
        past_run(vehicle_id, drivers[0], km=km, started_at=monday, hours=0.5)
    past_run(nev_sedans[2], drivers[0], km=9000, started_at=T0 - timedelta(days=340))
    # Hours this week: every driver has some; 魏明 has the fewest.
    for driver_id, hours in zip(drivers[1:], [5, 4, 6, 3, 2, 1, 4]):
        past_run(minibus, driver_id, km=10, started_at=monday + timedelta(hours=9), hours=hours)
    trip_id = make_trip()

    body = ok(assign(api, trip_id))

    assert body["vehicle"]["id"] == nev_sedans[2] and body["vehicle"]["nev"] is True
    assert body["driver"]["id"] == fleet["drivers"]["魏明"]
    assert body["auto"] is True and body["trip_state"] == "dispatched"


def test_auto_assign_skips_busy_nevs_and_picks_the_smallest_fitting_class(
        api, now, fleet, make_trip):
    nev_sedans = [v["id"] for v in fleet["sedans"] if v["nev"]]
    for vehicle_id in nev_sedans:  # occupy every NEV sedan
        ok(assign(api, make_trip(), vehicle_id=vehicle_id))
    body = ok(assign(api, make_trip()))
    assert body["vehicle"]["vehicle_class"] == "sedan" and body["vehicle"]["nev"] is False
    # No class wanted, five passengers: the smallest class with room is an MPV, NEV first.
    body = ok(assign(api, make_trip(vehicle_class=None, passengers=5)))
    assert body["vehicle"]["vehicle_class"] == "mpv" and body["vehicle"]["nev"] is True


def test_explicit_busy_vehicle_or_driver_is_409(api, now, fleet, make_trip):
    v1, v2 = fleet["sedans"][0]["id"], fleet["sedans"][1]["id"]
    d1, d2 = fleet["drivers"]["钱进"], fleet["drivers"]["孔亮"]
    ok(assign(api, make_trip(), vehicle_id=v1, driver_id=d1))
    other = make_trip(depart_at=T0 + timedelta(days=1, hours=2))  # overlaps the first

    resp = assign(api, other, vehicle_id=v1, driver_id=d2)
    assert resp.status_code == 409 and resp.get_json()["code"] == "vehicle_busy"
    assert "车辆" in resp.get_json()["message"]
    resp = assign(api, other, vehicle_id=v2, driver_id=d1)
    assert resp.status_code == 409 and resp.get_json()["code"] == "driver_busy"
    # with only the driver given, a free vehicle is chosen for it — still the driver is busy
    assert assign(api, other, driver_id=d1).get_json()["code"] == "driver_busy"
    assert ok(assign(api, other, vehicle_id=v2, driver_id=d2))["vehicle"]["id"] == v2


@pytest.mark.parametrize("side, gap_minutes, expected", [
    ("after", 30, 200), ("after", 29, 409), ("before", 30, 200), ("before", 29, 409),
])
def test_thirty_minute_buffer_between_tasks(api, now, fleet, make_trip, side, gap_minutes,
                                            expected):
    vehicle = fleet["sedans"][0]["id"]
    first_start = T0 + timedelta(days=1, hours=1)  # 09:00–12:00
    ok(assign(api, make_trip(depart_at=first_start, hours=3), vehicle_id=vehicle))
    if side == "after":
        depart = first_start + timedelta(hours=3, minutes=gap_minutes)
    else:
        depart = first_start - timedelta(hours=1, minutes=gap_minutes)
    resp = assign(api, make_trip(depart_at=depart, hours=1), vehicle_id=vehicle)
    assert resp.status_code == expected, resp.get_json()
    if expected == 409:
        assert resp.get_json()["code"] == "vehicle_busy"


def test_explicit_vehicle_must_fit_and_be_available(api, now, fleet, make_trip, in_db):
    trip_id = make_trip(passengers=5, vehicle_class="mpv")
    sedan = fleet["sedans"][0]["id"]
    resp = assign(api, trip_id, vehicle_id=sedan)
    assert resp.status_code == 422 and "vehicle_id" in resp.get_json()["errors"]
    mpv = next(v["id"] for v in fleet["vehicles"] if v["class"] == "mpv")
    ok(api.patch(f"/admin/vehicles/{mpv}", as_="demo-admin", json={"status": "maintenance"}))
    resp = assign(api, trip_id, vehicle_id=mpv)
    assert resp.status_code == 409 and resp.get_json()["code"] == "vehicle_unavailable"
    assert assign(api, trip_id, vehicle_id=99999).status_code == 422


def test_only_waiting_fleet_trips_can_be_assigned(api, now, make_trip):
    pending = make_trip(state=TripState.PENDING_APPROVAL)
    resp = assign(api, pending)
    assert resp.status_code == 409 and resp.get_json()["code"] == "not_dispatchable"
    emergency = make_trip(state=TripState.PENDING_APPROVAL, purpose=Purpose.EMERGENCY)
    assert ok(assign(api, emergency))["trip_state"] == "dispatched"
    ride = make_trip(channel=Channel.RIDEHAIL)
    assert assign(api, ride).get_json()["code"] == "not_fleet_trip"


def test_reassign_keeps_the_omitted_one_and_audits(api, now, fleet, make_trip, in_db):
    trip_id = make_trip()
    first = ok(assign(api, trip_id))
    new_vehicle = next(v["id"] for v in fleet["sedans"] if v["id"] != first["vehicle"]["id"])
    assert api.post(f"/trips/{trip_id}/reassign", as_=DISPATCHER,
                    json={"vehicle_id": new_vehicle}).status_code == 422  # reason required
    second = ok(api.post(f"/trips/{trip_id}/reassign", as_=DISPATCHER,
                         json={"vehicle_id": new_vehicle, "reason": "原车临时故障"}))
    assert second["vehicle"]["id"] == new_vehicle
    assert second["driver"]["id"] == first["driver"]["id"]
    record = ok(api.get(f"/trips/{trip_id}/dispatch", as_=DISPATCHER))
    old = record["assignments"][0]
    assert old["active"] is False and old["release_reason"] == "reassigned"
    assert old["release_comment"] == "原车临时故障"
    # the old vehicle is free again for an overlapping trip
    ok(assign(api, make_trip(), vehicle_id=first["vehicle"]["id"]))
    from app.audit import AuditEntry
    with in_db() as s:
        actions = [a.action for a in s.query(AuditEntry).filter_by(entity="assignments")]
    assert actions.count("assigned") == 3 and "released:reassigned" in actions


def test_unassign_returns_the_trip_to_the_queue(api, now, fleet, make_trip):
    trip_id = make_trip()
    vehicle = ok(assign(api, trip_id))["vehicle"]["id"]
    trip = ok(api.post(f"/trips/{trip_id}/unassign", as_=DISPATCHER, json={"reason": "行程调整"}))
    assert trip["state"] == "approved"
    assert trip["history"][-1]["comment"] == "行程调整"
    queue = ok(api.get("/dispatch/queue", as_=DISPATCHER))["items"]
    assert trip_id in {t["id"] for t in queue}
    ok(assign(api, make_trip(), vehicle_id=vehicle))
    # an emergency trip dispatched before approval goes back to pending
    emergency = make_trip(state=TripState.PENDING_APPROVAL, purpose=Purpose.EMERGENCY)
    ok(assign(api, emergency))
    assert ok(api.post(f"/trips/{emergency}/unassign", as_=DISPATCHER,
                       json={"reason": "改派"}))["state"] == "pending_approval"


def test_queue_lists_waiting_fleet_and_failed_provider_trips(api, now, make_trip):
    approved = make_trip()
    emergency = make_trip(state=TripState.PENDING_APPROVAL, purpose=Purpose.EMERGENCY)
    failed = make_trip(channel=Channel.RIDEHAIL, dispatch_issue="网约车平台无可用车辆")
    make_trip(state=TripState.PENDING_APPROVAL)         # ordinary approval still pending
    make_trip(channel=Channel.RENTAL)                   # booked with the provider fine
    make_trip(state=TripState.DRAFT)
    first = ok(api.get("/dispatch/queue?limit=2", as_=DISPATCHER))
    rest = ok(api.get(f"/dispatch/queue?cursor={first['next_cursor']}", as_=DISPATCHER))
    items = first["items"] + rest["items"]
    assert {t["id"] for t in items} == {approved, emergency, failed}
    assert next(t for t in items if t["id"] == failed)["dispatch_issue"] == "网约车平台无可用车辆"


def test_queue_and_assignment_are_for_dispatchers_only(api, now, make_trip):
    trip_id = make_trip()
    assert api.get("/dispatch/queue", as_="demo-traveler").status_code == 403
    assert api.post(f"/trips/{trip_id}/assign", as_="demo-traveler").status_code == 403
    assert api.get("/dispatch/queue").status_code == 401


def test_another_units_trip_is_404(api, now, make_trip):
    theirs = make_trip(applicant="demo-traveler")
    assert api.get(f"/trips/{theirs}/dispatch", as_="demo-traveler-2").status_code == 404
    assert api.post(f"/trips/{theirs}/cancel", as_="demo-traveler-2",
                    json={"reason": "x"}).status_code == 404
    assert api.post(f"/trips/{theirs}/confirm", as_="demo-traveler-2").status_code == 404
    assert api.post("/trips/99999/assign", as_=DISPATCHER).status_code == 404


def test_one_active_assignment_per_trip(api, now, make_trip, in_db):
    trip_id = make_trip()
    ok(assign(api, trip_id))
    resp = assign(api, trip_id)
    assert resp.status_code == 409 and resp.get_json()["code"] == "not_dispatchable"
    with in_db() as s:
        assert s.query(Assignment).filter_by(trip_id=trip_id, active=True).count() == 1
        assert s.get(Trip, trip_id).state == TripState.DISPATCHED


def test_explicit_driver_must_hold_a_licence_for_the_vehicle_class(api, now, fleet, make_trip):
    bus = next(v["id"] for v in fleet["vehicles"] if v["class"] == "bus")
    b1, a1 = fleet["drivers"]["严军"], fleet["drivers"]["钱进"]
    trip_id = make_trip(vehicle_class="bus", passengers=30)
    for body in ({"vehicle_id": bus, "driver_id": b1}, {"driver_id": b1}):
        refused = assign(api, trip_id, **body)
        assert refused.status_code == 422 and refused.get_json()["code"] == "licence_mismatch"
        assert "driver_id" in refused.get_json()["errors"]
    assert ok(assign(api, trip_id, vehicle_id=bus, driver_id=a1))["driver"]["id"] == a1
    # nor by reassigning the driver alone
    refused = api.post(f"/trips/{trip_id}/reassign", as_=DISPATCHER,
                       json={"driver_id": b1, "reason": "换人"})
    assert refused.status_code == 422 and refused.get_json()["code"] == "licence_mismatch"
    # a B1 licence covers a minibus
    minibus = next(v["id"] for v in fleet["vehicles"] if v["class"] == "minibus")
    ok(assign(api, make_trip(vehicle_class="minibus", passengers=10), vehicle_id=minibus,
              driver_id=b1))


def test_auto_assign_gives_a_bus_only_to_a_licensed_driver(api, now, fleet, make_trip,
                                                           past_run):
    minibus = next(v["id"] for v in fleet["vehicles"] if v["class"] == "minibus")
    monday = T0 - timedelta(days=1)
    a1 = [fleet["drivers"][name] for name in ("钱进", "孔亮", "曹勇")]  # the others hold B1
    for driver_id, hours in zip(a1, [3, 1, 2]):  # B1 drivers have the fewest hours
        past_run(minibus, driver_id, km=10, started_at=monday + timedelta(hours=9), hours=hours)
    assert ok(assign(api, make_trip(vehicle_class="bus", passengers=30)))["driver"]["id"] == a1[1]
    assert ok(assign(api, make_trip(vehicle_class="sedan")))["driver"]["id"] not in a1
    for driver_id in a1[::2]:   # every A1 driver busy: a free B1 driver is no answer
        ok(assign(api, make_trip(vehicle_class="sedan"), driver_id=driver_id))
    refused = assign(api, make_trip(vehicle_class="bus", passengers=30))
    assert refused.status_code == 409 and refused.get_json()["code"] == "no_driver_available"


def test_auto_assign_picks_only_drivers_who_can_sign_in(api, now, fleet, make_trip, past_run,
                                                       demo):
    minibus = next(v["id"] for v in fleet["vehicles"] if v["class"] == "minibus")
    monday = T0 - timedelta(days=1)
    for driver_id in fleet["drivers"].values():   # every demo driver has worked this week
        past_run(minibus, driver_id, km=10, started_at=monday + timedelta(hours=9), hours=2)
    no_login = ok(api.post("/admin/drivers", as_="demo-admin", json={
        "name": "无账号", "phone": "13600000011", "unit_id": demo["units"]["常州市"],
        "license_class": "C1"}), 201)["id"]
    login = ok(api.post("/admin/users", as_="demo-admin", json={
        "name": "已停用", "phone": "13600000012", "unit_id": demo["units"]["常州市"],
        "roles": ["driver"]}), 201)["id"]
    disabled = ok(api.post("/admin/drivers", as_="demo-admin", json={
        "name": "已停用", "phone": "13600000012", "unit_id": demo["units"]["常州市"],
        "user_id": login, "license_class": "C1"}), 201)["id"]
    assert api.delete(f"/admin/users/{login}", as_="demo-admin").status_code == 204
    body = ok(assign(api, make_trip()))
    assert body["driver"]["id"] in fleet["drivers"].values()
    assert body["driver"]["id"] not in (no_login, disabled)
