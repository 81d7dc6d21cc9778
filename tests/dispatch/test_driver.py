"""The driver's tasks, start and finish: offline times, odometer, only the assigned driver."""
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from app import clock
from app.accounts.models import Vehicle
from app.dispatch.models import TripRun

from tests.factories import ok

from .conftest import T0


def test_driver_sees_upcoming_and_running_tasks(api, now, fleet, make_trip, drive):
    upcoming = make_trip(depart_at=T0 + timedelta(days=2))
    running = make_trip()
    done = make_trip(depart_at=T0 + timedelta(days=3))
    drive(upcoming, until="dispatched", vehicle_id=fleet["sedans"][1]["id"])
    drive(running, until="started")
    drive(done, vehicle_id=fleet["sedans"][2]["id"])
    tasks = ok(api.get("/driver/tasks", as_="demo-driver"))["items"]
    assert {t["trip_id"]: t["trip_state"] for t in tasks} == {
        upcoming: "dispatched", running: "in_progress"}
    assert tasks[0]["trip"]["stops"][0]["name"] == "市民广场" and tasks[0]["vehicle"]["plate"]
    assert api.get("/driver/tasks", as_="demo-traveler").status_code == 403


def test_start_and_finish_record_the_facts(api, now, fleet, make_trip, drive, hook_calls, in_db):
    calls, _ = hook_calls
    vehicle = fleet["sedans"][0]
    trip_id = make_trip()
    start_km = vehicle["odometer_km"] + 12
    run = drive(trip_id, start_km=str(start_km), finish_body={
        "odometer_km": str(start_km + Decimal("85.5")), "tolls": "20.50", "parking": "10.00",
        "lodging": "0.00", "waiting_minutes": 45})
    assert run["trip_state"] == "completed"
    assert run["km"] == "85.5" and run["tolls"] == "20.50" and run["waiting_minutes"] == 45
    assert run["odometer_gap_km"] == "12.0"
    with in_db() as s:
        assert s.get(Vehicle, vehicle["id"]).odometer_km == start_km + Decimal("85.5")
        row = s.query(TripRun).filter_by(trip_id=trip_id).one()
        assert row.finished_at - row.started_at == timedelta(hours=3)
        assert row.parking == Decimal("10.00")
    (event, hooked_trip, facts), = calls
    assert (event, hooked_trip) == ("finished", trip_id)
    assert facts.odometer_km == Decimal("85.5") and facts.tolls == Decimal("20.50")
    assert facts.vehicle_class == "sedan" and facts.waiting_minutes == 45
    # the vehicle and driver are free again; the task has left the driver's list
    assert ok(api.get("/driver/tasks", as_="demo-driver"))["items"] == []
    record = ok(api.get(f"/trips/{trip_id}/dispatch", as_="demo-traveler"))
    assert record["assignments"][0]["release_reason"] == "finished"


def test_times_recorded_afterwards_must_be_in_order_and_not_future(
        api, now, fleet, make_trip, drive, travel):
    trip_id = make_trip(depart_at=T0 + timedelta(hours=1))
    drive(trip_id, until="dispatched")   # dispatched at T0
    odometer = str(fleet["sedans"][0]["odometer_km"] + 1)
    travel(T0 + timedelta(hours=2))

    def start(at):
        return api.post(f"/trips/{trip_id}/start", as_="demo-driver",
                        json={"odometer_km": odometer, "at": at.isoformat()})

    future = start(T0 + timedelta(hours=2, minutes=5))
    assert future.status_code == 422 and "at" in future.get_json()["errors"]
    assert future.get_json()["code"] == "time_in_future"
    before_dispatch = start(T0 - timedelta(minutes=1))
    assert before_dispatch.status_code == 422 and before_dispatch.get_json()["code"] == \
        "time_out_of_order"
    offline = ok(start(T0 + timedelta(minutes=30)))      # recorded while offline
    assert offline["started_at"] == clock.local(T0 + timedelta(minutes=30)).isoformat()  # Beijing time

    def finish(at):
        return api.post(f"/trips/{trip_id}/finish", as_="demo-driver", json={
            "odometer_km": str(Decimal(odometer) + 10), "at": at.isoformat()})

    early = finish(T0 + timedelta(minutes=20))
    assert early.status_code == 422 and "at" in early.get_json()["errors"]
    assert "收车时间" in early.get_json()["message"]
    ok(finish(T0 + timedelta(hours=1, minutes=30)))


def test_odometer_may_not_go_backwards(api, now, fleet, make_trip, drive, travel):
    vehicle = fleet["sedans"][0]
    trip_id = make_trip(depart_at=T0 + timedelta(hours=1))
    drive(trip_id, until="dispatched")
    back = api.post(f"/trips/{trip_id}/start", as_="demo-driver",
                    json={"odometer_km": str(vehicle["odometer_km"] - 1)})
    assert back.status_code == 422 and "odometer_km" in back.get_json()["errors"]
    assert back.get_json()["code"] == "odometer_backwards"
    start_km = vehicle["odometer_km"] + 3
    ok(api.post(f"/trips/{trip_id}/start", as_="demo-driver", json={"odometer_km": str(start_km)}))
    travel(T0 + timedelta(hours=1))
    back = api.post(f"/trips/{trip_id}/finish", as_="demo-driver",
                    json={"odometer_km": str(start_km - Decimal("0.1"))})
    assert back.status_code == 422 and back.get_json()["code"] == "odometer_backwards"
    floats = api.post(f"/trips/{trip_id}/finish", as_="demo-driver",
                      json={"odometer_km": str(start_km + 5), "tolls": 12.5})
    assert floats.status_code == 422 and "tolls" in floats.get_json()["errors"]


def test_only_the_assigned_driver_may_start_or_finish(api, now, fleet, make_trip):
    trip_id = make_trip()
    ok(api.post(f"/trips/{trip_id}/assign", as_="demo-dispatcher", json={
        "vehicle_id": fleet["sedans"][0]["id"], "driver_id": fleet["drivers"]["孔亮"]}))
    body = {"odometer_km": str(fleet["sedans"][0]["odometer_km"] + 1)}
    # 钱进 is a driver but not this trip's: the trip does not exist for him
    assert api.post(f"/trips/{trip_id}/start", as_="demo-driver", json=body).status_code == 404
    assert api.post(f"/trips/{trip_id}/finish", as_="demo-driver", json=body).status_code == 404
    assert api.post(f"/trips/{trip_id}/start", as_="demo-dispatcher",
                    json=body).status_code == 403
    assert api.post(f"/trips/{trip_id}/start", as_="demo-traveler", json=body).status_code == 403


def test_finish_before_start_is_409(api, now, fleet, make_trip, drive):
    trip_id = make_trip()
    drive(trip_id, until="dispatched")
    resp = api.post(f"/trips/{trip_id}/finish", as_="demo-driver",
                    json={"odometer_km": str(fleet["sedans"][0]["odometer_km"] + 9)})
    assert resp.status_code == 409 and resp.get_json()["code"] == "not_finishable"
    assert clock.now() == T0


def test_repeated_finish_is_409_not_404(api, now, fleet, make_trip, drive, in_db):
    """Returning frees the assignment; the driver's retry of 收车 (say, after a lost answer)
    is told the trip is finished already, and nothing is recorded twice."""
    trip_id = make_trip()
    first = drive(trip_id)
    again = api.post(f"/trips/{trip_id}/finish", as_="demo-driver",
                     json={"odometer_km": str(Decimal(first["end_odometer_km"]) + 1)})
    assert again.status_code == 409 and again.get_json()["code"] == "already_finished"
    assert again.get_json()["message"] == "该行程已收车，不能重复收车"
    assert api.get(f"/trips/{trip_id}", as_="demo-traveler").get_json()["state"] == "completed"
    with in_db() as s:
        run = s.scalars(select(TripRun).where(TripRun.trip_id == trip_id)).one()
        assert str(run.end_odometer_km) == first["end_odometer_km"]


def test_a_start_more_than_two_hours_before_departure_is_refused(api, now, fleet, make_trip,
                                                                  drive, travel, in_db):
    trip_id = make_trip(depart_at=T0 + timedelta(hours=4))
    drive(trip_id, until="dispatched")   # dispatched at T0
    travel(T0 + timedelta(hours=1, minutes=59))
    body = {"odometer_km": str(fleet["sedans"][0]["odometer_km"] + 5)}
    early = api.post(f"/trips/{trip_id}/start", as_="demo-driver", json=body)
    assert early.status_code == 409 and early.get_json()["code"] == "start_too_early"
    assert "2小时" in early.get_json()["message"]
    # nor recorded afterwards with an early time
    offline = api.post(f"/trips/{trip_id}/start", as_="demo-driver",
                       json={**body, "at": (T0 + timedelta(hours=1)).isoformat()})
    assert offline.status_code == 409 and offline.get_json()["code"] == "start_too_early"
    with in_db() as s:
        assert s.query(TripRun).filter_by(trip_id=trip_id).count() == 0
    travel(T0 + timedelta(hours=2))   # exactly two hours before departure
    assert ok(api.post(f"/trips/{trip_id}/start", as_="demo-driver", json=body))[
        "trip_state"] == "in_progress"


def test_a_reading_faster_than_150_kmh_since_the_last_is_refused(api, now, fleet, make_trip,
                                                                drive, travel, in_db):
    vehicle = fleet["sedans"][0]   # last read 12 h before T0 (the fleet fixture)
    trip_id = make_trip(depart_at=T0 + timedelta(hours=1))
    drive(trip_id, until="dispatched")
    travel(T0 + timedelta(hours=1))   # 13 h since the last reading: at most 1950 km more

    def start(km):
        return api.post(f"/trips/{trip_id}/start", as_="demo-driver", json={"odometer_km": str(km)})

    for km in ("9999999", vehicle["odometer_km"] + Decimal("1950.1")):
        poisoned = start(km)
        assert poisoned.status_code == 422, poisoned.get_json()
        assert poisoned.get_json()["code"] == "odometer_implausible"
        assert "odometer_km" in poisoned.get_json()["errors"]
    with in_db() as s:
        assert s.get(Vehicle, vehicle["id"]).odometer_km == vehicle["odometer_km"]
    start_km = vehicle["odometer_km"] + 1950
    ok(start(start_km))
    travel(T0 + timedelta(hours=3))   # 2 h on the road: at most 300 km

    def finish(km):
        return api.post(f"/trips/{trip_id}/finish", as_="demo-driver",
                        json={"odometer_km": str(km)})

    too_far = finish(start_km + Decimal("300.1"))
    assert too_far.status_code == 422 and too_far.get_json()["code"] == "odometer_implausible"
    assert ok(finish(start_km + 300))["km"] == "300.0"
