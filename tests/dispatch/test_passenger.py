"""Confirmation, disputes and the 72-hour auto-confirmation; cancellation releases the fleet."""
from datetime import timedelta
from decimal import Decimal

import pytest

from app import worker
from app.audit import AuditEntry
from app.dispatch.models import Assignment
from app.trips.models import Channel, Trip, TripState

from tests.factories import ok

from .conftest import T0


@pytest.fixture
def run_due(app):
    """The worker's ``run_due`` for this app's jobs."""

    def run(**kwargs):
        with app.app_context():
            return worker.run_due(**kwargs)

    return run


def test_applicant_confirms_a_completed_trip(api, now, make_trip, drive, hook_calls):
    calls, _ = hook_calls
    trip_id = make_trip()
    drive(trip_id)
    assert api.post(f"/trips/{trip_id}/confirm", as_="demo-dispatcher").status_code == 403
    trip = ok(api.post(f"/trips/{trip_id}/confirm", as_="demo-traveler"))
    assert trip["state"] == "confirmed"
    assert calls[-1] == ("confirmed", trip_id, False)
    again = api.post(f"/trips/{trip_id}/confirm", as_="demo-traveler")
    assert again.status_code == 409 and again.get_json()["code"] == "not_completed"


def test_confirm_before_completion_is_409(api, now, make_trip):
    trip_id = make_trip()
    resp = api.post(f"/trips/{trip_id}/confirm", as_="demo-traveler")
    assert resp.status_code == 409


def test_dispute_keeps_the_trip_completed_and_is_visible_to_dispatch_and_finance(
        api, now, make_trip, drive, in_db):
    trip_id = make_trip()
    drive(trip_id)
    assert api.post(f"/trips/{trip_id}/dispute", as_="demo-traveler",
                    json={}).status_code == 422
    row = ok(api.post(f"/trips/{trip_id}/dispute", as_="demo-traveler",
                      json={"reason": "里程与实际不符"}), 201)
    assert row["open"] is True and row["reason"] == "里程与实际不符"
    trip = ok(api.get(f"/trips/{trip_id}", as_="demo-traveler"))
    assert trip["state"] == "completed" and trip["history"][-1]["action"] == "dispute:opened"
    second = api.post(f"/trips/{trip_id}/dispute", as_="demo-traveler", json={"reason": "再议"})
    assert second.status_code == 409 and second.get_json()["code"] == "dispute_open"
    for role in ("demo-dispatcher", "demo-finance"):
        listed = ok(api.get("/dispatch/disputes?open=true", as_=role))["items"]
        assert [d["trip_id"] for d in listed] == [trip_id]
    assert api.get("/dispatch/disputes", as_="demo-traveler").status_code == 403
    with in_db() as s:
        assert s.query(AuditEntry).filter_by(entity="trip_disputes", action="opened").count() == 1
    # confirming later settles the dispute
    ok(api.post(f"/trips/{trip_id}/confirm", as_="demo-traveler"))
    assert ok(api.get("/dispatch/disputes?open=true", as_="demo-finance"))["items"] == []


def test_unconfirmed_trips_are_auto_confirmed_after_72_hours(
        api, now, make_trip, drive, hook_calls, in_db, travel, run_due):
    calls, _ = hook_calls
    quiet = make_trip(depart_at=T0 + timedelta(hours=1))
    disputed = make_trip(depart_at=T0 + timedelta(hours=5))
    drive(quiet)
    finished_at = T0 + timedelta(hours=4)
    drive(disputed)   # finishes 4 h after the first one
    ok(api.post(f"/trips/{disputed}/dispute", as_="demo-traveler", json={"reason": "费用有误"}), 201)

    assert run_due(now=finished_at + timedelta(hours=71, minutes=59),
                          names=["dispatch.auto_confirm"]) == {"dispatch.auto_confirm": 0}
    assert run_due(now=finished_at + timedelta(hours=72),
                          names=["dispatch.auto_confirm"]) == {"dispatch.auto_confirm": 1}
    with in_db() as s:
        trip = s.get(Trip, quiet)
        assert trip.state == TripState.CONFIRMED
        last = trip.events[-1]
        assert last.data["auto_confirmed"] is True and last.actor_id is None
        assert s.get(Trip, disputed).state == TripState.COMPLETED
    assert ("confirmed", quiet, True) in calls
    # nothing left to do on the next run
    assert run_due(now=finished_at + timedelta(days=30),
                          names=["dispatch.auto_confirm"]) == {"dispatch.auto_confirm": 0}


def test_cancel_releases_the_vehicle_and_driver(api, now, fleet, make_trip, drive, in_db,
                                                hook_calls):
    calls, _ = hook_calls
    vehicle = fleet["sedans"][0]["id"]
    trip_id = make_trip()
    drive(trip_id, until="dispatched")
    trip = ok(api.post(f"/trips/{trip_id}/cancel", as_="demo-traveler",
                       json={"reason": "会议取消"}))
    assert trip["state"] == "cancelled" and trip["history"][-1]["comment"] == "会议取消"
    assert trip["cancellation_fee"] is None and ("cancelled", trip_id) in calls
    with in_db() as s:
        (a,) = s.query(Assignment).filter_by(trip_id=trip_id).all()
        assert a.active is False and str(a.release_reason) == "cancelled"
    # the same vehicle and driver are free for an overlapping trip at once
    drive(make_trip(), until="dispatched", vehicle_id=vehicle)


def test_cancel_in_each_state_before_departure(api, now, make_trip, drive):
    for state in (TripState.DRAFT, TripState.QUOTED, TripState.PENDING_APPROVAL,
                  TripState.APPROVED):
        trip_id = make_trip(state=state)
        assert ok(api.post(f"/trips/{trip_id}/cancel", as_="demo-traveler",
                           json={"reason": "不再需要"}))["state"] == "cancelled"
    # a dispatcher may cancel someone else's trip
    other = make_trip()
    assert ok(api.post(f"/trips/{other}/cancel", as_="demo-dispatcher",
                       json={"reason": "车辆调整"}))["state"] == "cancelled"
    started = make_trip()
    drive(started, until="started")
    resp = api.post(f"/trips/{started}/cancel", as_="demo-traveler", json={"reason": "晚了"})
    assert resp.status_code == 409 and resp.get_json()["code"] == "not_cancellable"


def test_only_the_traveler_or_a_dispatcher_may_cancel(api, now, make_trip):
    trip_id = make_trip()
    # the approver sees the trip (same unit) but may not cancel it
    resp = api.post(f"/trips/{trip_id}/cancel", as_="demo-approver", json={"reason": "x"})
    assert resp.status_code == 403
    assert api.post(f"/trips/{trip_id}/cancel", as_="demo-traveler-2",
                    json={"reason": "x"}).status_code == 404


def test_provider_cancellation_fee_is_recorded(api, now, make_trip, hook_calls, in_db):
    _, fee = hook_calls
    fee["amount"] = Decimal("8.00")
    trip_id = make_trip(channel=Channel.RIDEHAIL)
    trip = ok(api.post(f"/trips/{trip_id}/cancel", as_="demo-traveler",
                       json={"reason": "行程取消"}))
    assert trip["cancellation_fee"] == "8.00"
    with in_db() as s:
        assert s.get(Trip, trip_id).cancellation_fee == Decimal("8.00")


def test_dispatcher_resolves_a_dispute_by_correcting_the_recorded_facts(
        api, now, fleet, make_trip, drive, in_db, travel, run_due):
    """The passenger objects to the parking fee; the dispatcher corrects it; the provisional
    charge follows, the passenger confirms again, and 72 h count from the answer."""
    trip_id = make_trip()
    drive(trip_id)  # 3 h in-city sedan: 60.00 block + tolls 15.00 + parking 10.00
    assert ok(api.get(f"/trips/{trip_id}/charge", as_="demo-traveler"))["total"] == "85.00"
    no_dispute = api.post(f"/trips/{trip_id}/dispute/resolve", as_="demo-dispatcher",
                          json={"resolution": "无异议"})
    assert no_dispute.status_code == 409 and no_dispute.get_json()["code"] == "no_open_dispute"
    ok(api.post(f"/trips/{trip_id}/dispute", as_="demo-traveler",
                json={"reason": "未产生停车费"}), 201)
    body = {"resolution": "经核实未产生停车费，已更正", "parking": "0.00"}
    assert api.post(f"/trips/{trip_id}/dispute/resolve", as_="demo-traveler",
                    json=body).status_code == 403
    assert api.post(f"/trips/{trip_id}/dispute/resolve", as_="demo-dispatcher",
                    json={"parking": "0.00"}).status_code == 422
    resolved_at = travel(now + timedelta(days=5))
    row = ok(api.post(f"/trips/{trip_id}/dispute/resolve", as_="demo-dispatcher", json=body))
    assert row["open"] is False and row["resolution"] == body["resolution"]

    charge = ok(api.get(f"/trips/{trip_id}/charge", as_="demo-traveler"))
    assert charge["total"] == "75.00" and charge["final"] is False
    assert "parking" not in {line["kind"] for line in charge["lines"]}
    trip = ok(api.get(f"/trips/{trip_id}", as_="demo-traveler"))
    assert trip["state"] == "completed" and trip["history"][-1]["action"] == "dispute:resolved"
    with in_db() as s:
        entry = s.query(AuditEntry).filter_by(entity="trip_disputes", action="resolved").one()
        assert entry.data["corrected"] == {"parking": ["10.00", "0.00"]}
    # finished 5 days ago, but the 72 h start again from the answer
    assert run_due(now=resolved_at + timedelta(hours=71),
                          names=["dispatch.auto_confirm"]) == {"dispatch.auto_confirm": 0}
    assert run_due(now=resolved_at + timedelta(hours=72),
                          names=["dispatch.auto_confirm"]) == {"dispatch.auto_confirm": 1}
    assert ok(api.get(f"/trips/{trip_id}/charge", as_="demo-traveler"))["final"] is True


def test_odometer_correction_only_while_it_is_the_vehicles_last_reading(
        api, now, fleet, make_trip, drive, in_db):
    from app.accounts.models import Vehicle
    from app.dispatch.models import TripRun

    vehicle = fleet["sedans"][0]["id"]
    first, later = make_trip(), make_trip(depart_at=T0 + timedelta(days=2))
    drive(first)  # 42 km recorded
    with in_db() as s:
        end_km = s.get(Vehicle, vehicle).odometer_km
    ok(api.post(f"/trips/{first}/dispute", as_="demo-traveler", json={"reason": "里程偏多"}),
       201)
    backwards = api.post(f"/trips/{first}/dispute/resolve", as_="demo-dispatcher",
                         json={"resolution": "更正里程", "odometer_km": str(end_km - 1000)})
    assert backwards.status_code == 422 and backwards.get_json()["code"] == "odometer_backwards"
    ok(api.post(f"/trips/{first}/dispute/resolve", as_="demo-dispatcher",
                json={"resolution": "更正里程", "odometer_km": str(end_km - 2)}))
    with in_db() as s:
        run = s.query(TripRun).filter_by(trip_id=first).one()
        assert run.km == Decimal("40.0") and s.get(Vehicle, vehicle).odometer_km == end_km - 2

    ok(api.post(f"/trips/{first}/dispute", as_="demo-traveler", json={"reason": "仍有出入"}),
       201)
    drive(later)  # the same vehicle drives on: the first trip's end reading is history now
    resp = api.post(f"/trips/{first}/dispute/resolve", as_="demo-dispatcher",
                    json={"resolution": "更正里程", "odometer_km": str(end_km - 3)})
    assert resp.status_code == 409 and resp.get_json()["code"] == "odometer_superseded"
    assert [d["trip_id"] for d in ok(api.get("/dispatch/disputes?open=true",
                                              as_="demo-dispatcher"))["items"]] == [first]


def test_a_corrected_end_reading_is_held_to_150_kmh_over_the_run(api, now, fleet, make_trip,
                                                                 drive, in_db):
    from app.dispatch.models import TripRun

    trip_id = make_trip()
    drive(trip_id)   # a 3 h run: at most 450 km
    with in_db() as s:
        start_km = s.query(TripRun).filter_by(trip_id=trip_id).one().start_odometer_km
    ok(api.post(f"/trips/{trip_id}/dispute", as_="demo-traveler", json={"reason": "里程不对"}),
       201)
    resp = api.post(f"/trips/{trip_id}/dispute/resolve", as_="demo-dispatcher", json={
        "resolution": "更正里程", "odometer_km": str(start_km + Decimal("450.1"))})
    assert resp.status_code == 422 and resp.get_json()["code"] == "odometer_implausible"
    ok(api.post(f"/trips/{trip_id}/dispute/resolve", as_="demo-dispatcher",
                json={"resolution": "更正里程", "odometer_km": str(start_km + 450)}))
