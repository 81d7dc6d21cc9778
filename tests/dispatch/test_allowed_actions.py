"""Every trip read carries what the caller may do now (``allowed_actions``): the state and
the caller's part in the trip decide it, so no client re-implements a rule."""
from __future__ import annotations

from datetime import timedelta

from app.trips.models import Channel, Purpose, TripState

from tests.factories import ok

from .conftest import T0


def actions(api, trip_id, as_):
    return ok(api.get(f"/trips/{trip_id}", as_=as_))["allowed_actions"]


def driver_actions(api, trip_id):
    """The driver reads the trips they drive through their task list."""
    tasks = ok(api.get("/driver/tasks", as_="demo-driver"))["items"]
    return {t["trip"]["id"]: t["trip"]["allowed_actions"] for t in tasks}.get(trip_id)


def test_before_approval_the_traveler_quotes_submits_withdraws_and_cancels(api, now, make_trip):
    draft = make_trip(state=TripState.DRAFT, channel=None)
    assert actions(api, draft, "demo-traveler") == ["quote", "cancel"]
    quoted = make_trip(state=TripState.QUOTED, channel=None)
    assert actions(api, quoted, "demo-traveler") == ["quote", "submit", "cancel"]
    pending = make_trip(state=TripState.PENDING_APPROVAL)
    assert actions(api, pending, "demo-traveler") == ["withdraw", "cancel"]
    # the approver sees the trip in their unit but acts on it only through the task
    assert actions(api, pending, "demo-approver") == []
    # the dispatcher may cancel it, not dispatch it before approval
    assert actions(api, pending, "demo-dispatcher") == ["cancel"]


def test_an_emergency_trip_is_dispatchable_while_pending(api, now, make_trip):
    trip_id = make_trip(state=TripState.PENDING_APPROVAL, purpose=Purpose.EMERGENCY)
    assert actions(api, trip_id, "demo-dispatcher") == ["cancel", "assign"]


def test_through_dispatch_driving_and_sign_off(api, now, fleet, make_trip, drive, travel):
    trip_id = make_trip(depart_at=T0 + timedelta(hours=1))
    odometer = fleet["sedans"][0]["odometer_km"]
    assert actions(api, trip_id, "demo-traveler") == ["cancel"]
    assert actions(api, trip_id, "demo-dispatcher") == ["cancel", "assign"]
    drive(trip_id, until="dispatched")
    assert actions(api, trip_id, "demo-dispatcher") == ["cancel", "reassign", "unassign"]
    assert driver_actions(api, trip_id) == ["start"]
    assert actions(api, trip_id, "demo-traveler") == ["cancel"]
    ok(api.post(f"/trips/{trip_id}/start", as_="demo-driver",
                json={"odometer_km": str(odometer + 5)}))
    assert driver_actions(api, trip_id) == ["finish"]
    assert actions(api, trip_id, "demo-traveler") == []
    travel(T0 + timedelta(hours=3))
    ok(api.post(f"/trips/{trip_id}/finish", as_="demo-driver",
                json={"odometer_km": str(odometer + 47), "tolls": "0.00", "parking": "0.00",
                      "lodging": "0.00", "waiting_minutes": 0}))
    assert actions(api, trip_id, "demo-traveler") == ["confirm", "dispute"]
    assert driver_actions(api, trip_id) is None  # the task is done
    assert actions(api, trip_id, "demo-dispatcher") == []
    ok(api.post(f"/trips/{trip_id}/dispute", as_="demo-traveler", json={"reason": "里程不对"}),
       201)
    assert actions(api, trip_id, "demo-traveler") == ["confirm"]
    assert actions(api, trip_id, "demo-dispatcher") == ["resolve_dispute"]
    trip = ok(api.post(f"/trips/{trip_id}/confirm", as_="demo-traveler"))
    assert trip["state"] == "confirmed" and trip["allowed_actions"] == []


def test_lists_carry_allowed_actions_per_trip(api, now, make_trip):
    mine = make_trip(state=TripState.QUOTED, channel=None)
    page = ok(api.get("/trips", as_="demo-traveler"))
    by_id = {t["id"]: t["allowed_actions"] for t in page["items"]}
    assert by_id[mine] == ["quote", "submit", "cancel"]
    waiting = make_trip()
    queue = ok(api.get("/dispatch/queue", as_="demo-dispatcher"))["items"]
    assert {t["id"]: t["allowed_actions"] for t in queue}[waiting] == ["cancel", "assign"]


def test_a_failed_provider_booking_may_be_switched_to_the_fleet(api, now, make_trip):
    trip_id = make_trip(channel=Channel.RIDEHAIL, dispatch_issue="供应商拒绝下单")
    assert actions(api, trip_id, "demo-dispatcher") == ["cancel", "switch_to_fleet"]
    booked = make_trip(channel=Channel.RIDEHAIL)
    assert actions(api, booked, "demo-dispatcher") == ["cancel"]


def test_trip_allowed_actions_are_typed_in_the_openapi_document(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    for name in ("Trip", "DispatchedTrip", "TripBrief"):
        field = schemas[name]["properties"]["allowed_actions"]
        assert field["type"] == "array" and field["items"]["enum"] == [
            "quote", "submit", "withdraw", "cancel", "assign", "reassign", "unassign",
            "switch_to_fleet", "start", "finish", "confirm", "dispute", "resolve_dispute",
            "accept_price"]


def test_the_driver_is_offered_start_only_within_two_hours_of_departure(api, now, make_trip,
                                                                        drive, travel):
    trip_id = make_trip(depart_at=T0 + timedelta(hours=4))
    drive(trip_id, until="dispatched")
    assert driver_actions(api, trip_id) == []  # four hours ahead: too early to set off
    travel(T0 + timedelta(hours=2))
    assert driver_actions(api, trip_id) == ["start"]
