"""Provider orders over real HTTP: booking after approval through the sandboxes, signed
callbacks to the app's webhook, refusals in the dispatch queue, cancellation with a fee."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import requests
from sqlalchemy import func, select

from app import clock, db
from app.accounts.models import User
from app.approvals.admin import publish_policy
from app.audit import AuditEntry
from app.orders.models import ProviderOrder, WebhookNonce
from app.trips.models import Offer, Trip
from app.worker import run_due
from tests import factories
from tests.factories import ok
from providers.http import signature
from tests.orders.conftest import KEYS, signed, webhook


def test_ride_hailing_trip_goes_to_completed_through_signed_callbacks(orders, webhooks, bills,
                                                                       api):
    trip_id = orders.approved_trip("ridehail")
    assert orders.book() == {"orders.book": 1}
    row = orders.order(trip_id)
    assert row.state == "created" and row.order_id.startswith("RH")
    assert row.out_order_id.startswith(f"T{trip_id}-")
    assert orders.trip(trip_id)["state"] == "dispatched"

    orders.advance("ridehail", row.order_id, to="assigned")
    orders.wait_callbacks("ridehail", row.order_id, 1)
    assert orders.order(trip_id).plate and orders.trip(trip_id)["state"] == "dispatched"
    orders.advance("ridehail", row.order_id, to="in_trip")
    orders.wait_state(trip_id, "in_progress")
    orders.advance("ridehail", row.order_id, to="completed", tolls="12.00")
    orders.wait_state(trip_id, "completed")

    (call,) = bills
    assert call[0] == trip_id and call[2].order_id == row.order_id
    assert call[1].total > Decimal("0") and any(l.kind == "tolls" and l.amount == Decimal("12.00")
                                                for l in call[1].lines)
    assert orders.order(trip_id).bill
    moves = [(f, t, d.get("event"), d.get("provider")) for f, t, d in orders.events(trip_id)
             if f != t]
    assert moves[-3:] == [("approved", "dispatched", "booked", "ridehail"),
                          ("dispatched", "in_progress", "in_trip", "ridehail"),
                          ("in_progress", "completed", "completed", "ridehail")]
    # The provider's "paid" afterwards is a forward move of the order only.
    orders.advance("ridehail", row.order_id, to="paid")
    orders.wait_callbacks("ridehail", row.order_id, 4)
    assert orders.order(trip_id).state == "paid" and len(bills) == 1
    assert orders.trip(trip_id)["state"] == "completed"


def test_a_retried_booking_never_makes_a_second_provider_order(orders, app, sandboxes):
    trip_id = orders.approved_trip("ridehail")
    orders.book()
    first = orders.order(trip_id)
    # The worker "crashed" after the provider created the order: our row still says
    # booking and its lease ran out; the retry reuses the out_order_id.
    with app.app_context():
        row = db.session.get(ProviderOrder, first.id)
        row.state, row.order_id = "booking", None
        row.claimed_until = clock.now() - timedelta(seconds=1)
        db.session.commit()
        db.session.remove()
    assert orders.book() == {"orders.book": 1}
    again = orders.order(trip_id)
    assert again.order_id == first.order_id and again.out_order_id == first.out_order_id
    assert again.attempts == 2
    # Running the job again finds nothing to do.
    assert orders.book() == {"orders.book": 0}


def test_transient_failure_is_retried_with_backoff(orders, faults, frozen_clock):
    trip_id = orders.approved_trip("ridehail")
    now = frozen_clock(clock.now())
    faults("ridehail", fault="5xx", path="/v1/orders", times=3)  # the client retries twice
    assert orders.book(now) == {"orders.book": 1}
    row = orders.order(trip_id)
    assert row.state == "pending" and row.attempts == 1 and "503" in row.error
    trip = orders.dispatch(trip_id)
    assert trip["state"] == "approved" and "自动重试" in trip["dispatch_issue"]
    assert orders.book(now + timedelta(seconds=10)) == {"orders.book": 0}  # not yet due
    assert orders.book(now + timedelta(seconds=31)) == {"orders.book": 1}
    assert orders.order(trip_id).state == "created"
    trip = orders.dispatch(trip_id)
    assert trip["state"] == "dispatched" and trip["dispatch_issue"] is None


def _refused_rental(orders, sandboxes) -> int:
    """An approved rental trip whose reservation the company refused: it no longer knows
    the quote. (A quote lock that passed is no refusal: the booking re-quotes,
    tests/orders/test_requote.py.)"""
    trip_id = orders.approved_trip("rental", provider="rental-a")
    with orders.app.app_context():
        offer = db.session.get(Offer, db.session.get(Trip, trip_id).selected_offer_id)
        offer.extra = {**offer.extra, "quote_id": "q_purged_by_the_supplier"}
        db.session.commit()
        db.session.remove()
    orders.book()
    assert orders.order(trip_id).state == "failed"
    return trip_id


def test_rental_refusal_shows_in_the_dispatch_queue(orders, api, sandboxes, frozen_clock):
    trip_id = _refused_rental(orders, sandboxes)
    row = orders.order(trip_id)
    assert row.state == "failed" and row.attempts == 1
    queue = ok(api.get("/dispatch/queue", "demo-dispatcher"))["items"]
    (item,) = [t for t in queue if t["id"] == trip_id]
    assert item["state"] == "approved" and "拒绝下单" in item["dispatch_issue"]
    assert orders.book() == {"orders.book": 0}  # a refusal is not retried


def test_emergency_trip_is_booked_before_approval(orders):
    trip_id = orders.approved_trip("ridehail", purpose="emergency", approve=False)
    assert orders.trip(trip_id)["state"] == "pending_approval"
    orders.book()
    assert orders.trip(trip_id)["state"] == "dispatched"


def _callback(orders, trip_id, state="in_trip", **extra):
    row = orders.order(trip_id)
    return {"event": "order.state", "order_id": row.order_id, "out_order_id": row.out_order_id,
            "state": state, "occurred_at": clock.now().isoformat(), **extra}


def _audit_count(app) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(AuditEntry))
        db.session.remove()
        return n


def test_forged_stale_and_replayed_callbacks_are_refused(orders, live_server, app,
                                                         frozen_clock):
    trip_id = orders.approved_trip("ridehail")
    orders.book()
    url = f"{live_server}/api/v1/webhooks/ridehail"
    body = signed("ridehail", _callback(orders, trip_id))
    before = _audit_count(app)

    forged = {**body, "state": "completed"}  # changed after signing
    resp = requests.post(url, json=forged, timeout=5)
    assert resp.status_code == 401 and resp.json()["code"] == "bad_signature"
    assert set(resp.json()) >= {"code", "message", "status", "errors"}
    wrong_key = signed("rental-a", _callback(orders, trip_id))
    assert requests.post(url, json=wrong_key, timeout=5).json()["code"] == "unknown_app_key"

    frozen_clock(clock.now() + timedelta(minutes=6))  # our clock is 6 min past its timestamp
    resp = requests.post(url, json=body, timeout=5)
    assert resp.status_code == 401 and resp.json()["code"] == "stale_timestamp"
    frozen_clock(clock.now() - timedelta(minutes=6))
    assert orders.trip(trip_id)["state"] == "dispatched" and _audit_count(app) == before

    assert requests.post(url, json=body, timeout=5).status_code == 200
    assert orders.trip(trip_id)["state"] == "in_progress"
    after = _audit_count(app)
    resp = requests.post(url, json=body, timeout=5)
    assert resp.status_code == 401 and resp.json()["code"] == "replayed_nonce"
    assert _audit_count(app) == after
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(WebhookNonce)) == 1
        # Once past their window, the purge job forgets nonces.
        assert run_due(now=clock.now() + timedelta(minutes=10),
                       names=["orders.purge_nonces"]) == {"orders.purge_nonces": 1}


def test_a_field_moved_into_the_nonce_is_refused(orders, live_server, app):
    """The shift attack (issue 12 #6): ``occurred_at`` folded into the nonce once signed the
    same ``k=v&…`` string, so the re-sent callback passed as new without being re-signed."""
    trip_id = orders.approved_trip("ridehail")
    orders.book()
    url = f"{live_server}/api/v1/webhooks/ridehail"
    body = signed("ridehail", _callback(orders, trip_id))
    assert requests.post(url, json=body, timeout=5).json() == {"ok": True, "state": "in_trip"}
    shifted = {**body, "nonce": f"{body['nonce']}&occurred_at={body['occurred_at']}"}
    del shifted["occurred_at"]
    resp = requests.post(url, json=shifted, timeout=5)
    assert resp.status_code == 401 and resp.json()["code"] == "bad_signature"
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(WebhookNonce)) == 1


def test_a_long_platform_nonce_is_kept_and_refused_on_replay(orders, live_server):
    trip_id = orders.approved_trip("ridehail")
    orders.book()
    app_key, secret = KEYS["ridehail"]
    body = {**_callback(orders, trip_id), "app_key": app_key,
            "timestamp": str(int(clock.now().timestamp())), "nonce": "n" * 120}
    body["sign"] = signature(body, secret)
    url = f"{live_server}/api/v1/webhooks/ridehail"
    assert requests.post(url, json=body, timeout=5).json() == {"ok": True, "state": "in_trip"}
    resp = requests.post(url, json=body, timeout=5)
    assert resp.status_code == 401 and resp.json()["code"] == "replayed_nonce"


def test_rental_callbacks_are_standard_webhooks(orders, webhooks):
    """Our own protocol signs ``id.timestamp.body``: the sandbox's callbacks get through; a
    seen id (even re-signed), a new id on an old signature, a stale timestamp, a changed
    body and the old field-signed form are refused, and nothing changes."""
    trip_id = orders.approved_trip("rental", provider="rental-a")
    orders.book()
    row = orders.order(trip_id)
    orders.advance("rental-a", row.order_id, to="assigned")
    orders.wait_callbacks("rental-a", row.order_id, 1)
    assert orders.order(trip_id).plate

    url = f"{webhooks}/api/v1/webhooks/rental-a"
    payload = {"event": "reservation.state", "order_id": row.order_id,
               "out_order_id": row.out_order_id, "state": "in_service",
               "occurred_at": clock.now().isoformat()}
    headers, body = webhook("rental-a", payload, msg_id="msg_first")

    def post(headers, body):
        resp = requests.post(url, data=body, headers=headers, timeout=5)
        return resp.status_code, resp.json().get("code")

    assert post({**headers, "webhook-id": "msg_other"}, body) == (401, "bad_signature")
    assert post(headers, body.replace(b"in_service", b"finished")) == (401, "bad_signature")
    assert post(*webhook("rental-a", payload, at=clock.now().timestamp() - 301)) == \
        (401, "stale_timestamp")
    old_style = signed("rental-a", payload)
    resp = requests.post(url, json=old_style, timeout=5)
    assert (resp.status_code, resp.json()["code"]) == (401, "signature_missing")
    assert orders.trip(trip_id)["state"] == "dispatched"

    assert post(headers, body) == (200, None)
    assert orders.trip(trip_id)["state"] == "in_progress"
    assert post(headers, body) == (401, "replayed_nonce")
    assert post(*webhook("rental-a", payload, msg_id="msg_first",
                         at=clock.now().timestamp() + 1)) == (401, "replayed_nonce")


def test_unknown_provider_and_unknown_order(orders, live_server, app):
    url = f"{live_server}/api/v1/webhooks"
    payload = {"event": "order.state", "order_id": "RH99999999", "out_order_id": "T999-x",
               "state": "completed", "occurred_at": clock.now().isoformat()}
    resp = requests.post(f"{url}/nobody", json=signed("ridehail", payload), timeout=5)
    assert resp.status_code == 404 and resp.json()["code"] == "unknown_provider"
    assert requests.post(f"{url}/fleet", json=payload, timeout=5).status_code == 404
    before = _audit_count(app)
    resp = requests.post(f"{url}/ridehail", json=signed("ridehail", payload), timeout=5)
    assert resp.status_code == 200 and resp.json() == {"ignored": "unknown_order"}
    assert _audit_count(app) == before


def test_duplicate_and_out_of_order_events_do_not_corrupt_state(orders, live_server, bills):
    trip_id = orders.approved_trip("ridehail")
    orders.book()
    url = f"{live_server}/api/v1/webhooks/ridehail"
    fee = {"base": "10.00", "distance": "29.52", "time": "9.90", "total": "49.42"}

    def post(state, **extra):
        resp = requests.post(url, json=signed("ridehail", _callback(orders, trip_id, state,
                                                                    **extra)), timeout=5)
        assert resp.status_code == 200, resp.text
        return resp.json()

    assert post("in_trip") == {"ok": True, "state": "in_trip"}
    assert post("assigned", driver={"name": "迟到", "phone": "1", "plate": "X"}) == \
        {"ignored": "stale_event", "state": "in_trip"}
    assert orders.trip(trip_id)["state"] == "in_progress"
    assert orders.order(trip_id).plate is None
    assert post("completed", fee=fee)["state"] == "completed"
    assert post("completed", fee=fee)["ignored"] == "stale_event"
    assert orders.trip(trip_id)["state"] == "completed"
    assert len(bills) == 1 and bills[0][1].total == Decimal("49.42")


def test_cancellation_after_driver_assignment_records_the_fee(orders, webhooks, api):
    trip_id = orders.approved_trip("ridehail")
    orders.book()
    row = orders.order(trip_id)
    orders.advance("ridehail", row.order_id, to="assigned")
    orders.wait_callbacks("ridehail", row.order_id, 1)
    trip = ok(api.post(f"/trips/{trip_id}/cancel", "demo-traveler", json={"reason": "会议取消"}))
    assert trip["state"] == "cancelled" and Decimal(trip["cancellation_fee"]) == Decimal("5.00")
    assert orders.order(trip_id).state == "cancelled"
    # The provider's own "cancelled" callback afterwards changes nothing.
    orders.wait_callbacks("ridehail", row.order_id, 2)
    assert orders.trip(trip_id)["state"] == "cancelled"
    (_, _, data) = orders.events(trip_id)[-1]
    assert data["cancellation_fee"] == "5.00" and data["provider"] == "ridehail"
    # The fee is the trip's charge, final at once, and settles with the ride-hailing company.
    charge = ok(api.get(f"/trips/{trip_id}/charge", "demo-traveler"))
    assert (charge["total"], charge["final"], charge["supplier"]) == ("5.00", True, "ridehail")
    assert charge["flags"] == ["cancellation_fee"] and charge["order_id"] == row.order_id
    period = clock.local(clock.now()).strftime("%Y-%m")
    ok(api.post("/settlements", "demo-finance", json={"period": period}))
    (statement,) = ok(api.get(f"/settlements?period={period}&supplier=ridehail",
                              "demo-finance"))["items"]
    lines = ok(api.get(f"/settlements/{statement['id']}/lines", "demo-finance"))["items"]
    assert [(l["order_id"], l["amount"]) for l in lines] == [(row.order_id, "5.00")]
    assert statement["total"] == "5.00"


def test_cancellation_before_assignment_is_free_and_closes_nothing_else(orders, api):
    trip_id = orders.approved_trip("ridehail")
    orders.book()
    trip = ok(api.post(f"/trips/{trip_id}/cancel", "demo-traveler", json={"reason": "改期"}))
    assert trip["state"] == "cancelled" and trip["cancellation_fee"] is None
    assert orders.order(trip_id).state == "cancelled"


def test_cancelling_a_pending_trip_closes_its_approval_tasks(orders, api):
    trip_id = orders.approved_trip("ridehail", approve=False)
    assert [t for t in ok(api.get("/approvals?state=pending", "demo-approver"))["items"]
            if t["trip_id"] == trip_id]
    ok(api.post(f"/trips/{trip_id}/cancel", "demo-traveler", json={"reason": "不去了"}))
    assert not [t for t in ok(api.get("/approvals?state=pending", "demo-approver"))["items"]
                if t["trip_id"] == trip_id]
    assert orders.book() == {"orders.book": 0}


def test_provider_cancel_failure_keeps_the_trip(orders, api, faults):
    trip_id = orders.approved_trip("ridehail")
    orders.book()
    faults("ridehail", fault="5xx", path="/v1/orders/cancel")
    resp = api.post(f"/trips/{trip_id}/cancel", "demo-traveler", json={"reason": "会议取消"})
    assert resp.status_code == 502 and resp.get_json()["code"] == "provider_cancel_failed"
    assert orders.trip(trip_id)["state"] == "dispatched"
    assert orders.order(trip_id).state == "created"


def test_completed_callback_becomes_the_trips_charge(orders, live_server, api):
    """The provider's final bill reaches billing: the passenger sees it as the trip's charge."""
    trip_id = orders.approved_trip("ridehail")
    orders.book()
    assert api.get(f"/trips/{trip_id}/charge", "demo-traveler").status_code == 404
    fee = {"base": "10.00", "distance": "20.00", "time": "5.00", "total": "35.00"}
    resp = requests.post(f"{live_server}/api/v1/webhooks/ridehail", timeout=5, json=signed(
        "ridehail", _callback(orders, trip_id, "completed", fee=fee)))
    assert resp.status_code == 200, resp.text
    charge = ok(api.get(f"/trips/{trip_id}/charge", "demo-traveler"))
    assert charge["total"] == "35.00" and charge["final"] is False
    assert charge["supplier"] == "ridehail" and charge["channel"] == "ridehail"
    assert charge["order_id"] == orders.order(trip_id).order_id


def test_retries_are_bounded(orders, faults, frozen_clock, api):
    trip_id = orders.approved_trip("ridehail")
    now = frozen_clock(clock.now())
    faults("ridehail", fault="5xx", path="/v1/orders")
    for attempt in range(5):
        assert orders.book(now + timedelta(hours=attempt)) == {"orders.book": 1}
    assert orders.book(now + timedelta(hours=9)) == {"orders.book": 0}
    row = orders.order(trip_id)
    assert row.state == "failed" and row.attempts == 5
    queue = ok(api.get("/dispatch/queue", "demo-dispatcher"))["items"]
    assert "5次均失败" in next(t for t in queue if t["id"] == trip_id)["dispatch_issue"]


def test_dispatcher_moves_a_refused_booking_to_the_fleet(orders, api, sandboxes):
    trip_id = _refused_rental(orders, sandboxes)
    url = f"/trips/{trip_id}/switch-to-fleet"
    assert api.post(url, "demo-traveler", json={"reason": "改派公车"}).status_code == 403
    assert api.post(url, "demo-dispatcher", json={}).status_code == 422
    trip = ok(api.post(url, "demo-dispatcher", json={"reason": "租赁公司拒单，改派公车"}))
    assert trip["channel"] == "fleet" and trip["dispatch_issue"] is None
    assert trip["state"] == "approved"
    assert trip["history"][-1]["action"] == "dispatch:switched_to_fleet"
    queue = ok(api.get("/dispatch/queue", "demo-dispatcher"))["items"]
    assert next(t for t in queue if t["id"] == trip_id)["channel"] == "fleet"
    assigned = ok(api.post(f"/trips/{trip_id}/assign", "demo-dispatcher", json={}))
    assert assigned["trip_state"] == "dispatched" and assigned["vehicle"]["id"]
    again = api.post(url, "demo-dispatcher", json={"reason": "再次改派"})
    assert again.status_code == 409 and again.get_json()["code"] == "not_provider_trip"
    assert orders.book() == {"orders.book": 0}  # no second booking for a fleet trip


def test_a_booking_still_under_way_is_not_switched(orders, api):
    trip_id = orders.approved_trip("ridehail")
    url = f"/trips/{trip_id}/switch-to-fleet"
    waiting = api.post(url, "demo-dispatcher", json={"reason": "改派公车"})
    assert waiting.status_code == 409 and waiting.get_json()["code"] == "provider_order_live"
    orders.book()
    booked = api.post(url, "demo-dispatcher", json={"reason": "改派公车"})
    assert booked.status_code == 409 and booked.get_json()["code"] == "not_dispatchable"
    assert orders.trip(trip_id)["channel"] == "ridehail"


@pytest.mark.parametrize("then", ["switch", "cancel"])
def test_an_order_made_after_all_is_cancelled_with_the_provider(
        orders, webhooks, faults, frozen_clock, api, sandboxes, app, then):
    """Every answer to the booking was lost, so we gave up, and the dispatcher moved the trip
    to the fleet (or the traveler cancelled it); but the provider had made the order. When it
    shows up (a callback), the trip is left alone and the worker cancels the provider's order."""
    trip_id = orders.approved_trip("ridehail")
    faults("ridehail", fault="lost_response", path="/v1/orders")
    start = clock.now()
    for attempt in range(5):
        orders.book(start + timedelta(hours=attempt))
    row = orders.order(trip_id)
    assert row.state == "failed" and row.attempts == 5 and row.order_id is None
    frozen_clock(datetime.now(timezone.utc))  # callbacks are signed with the real time
    if then == "switch":
        ok(api.post(f"/trips/{trip_id}/switch-to-fleet", "demo-dispatcher",
                    json={"reason": "网约车下单失败，改派公车"}))
        expected = ("approved", "fleet")
    else:
        trip = ok(api.post(f"/trips/{trip_id}/cancel", "demo-traveler", json={"reason": "改期"}))
        assert trip["cancellation_fee"] is None and orders.order(trip_id).state == "failed"
        expected = ("cancelled", "ridehail")
    (made,) = requests.get(f"{sandboxes['ridehail'].url}/__sandbox/orders", timeout=5, params={
        "out_order_id": row.out_order_id}).json()["items"]
    orders.advance("ridehail", made["order_id"], to="assigned")
    orders.wait_callbacks("ridehail", made["order_id"], 1)
    row = orders.order(trip_id)
    assert row.state == "assigned" and row.order_id == made["order_id"]
    trip = orders.trip(trip_id)
    assert (trip["state"], trip["channel"]) == expected
    requests.delete(f"{sandboxes['ridehail'].url}/__sandbox/faults", timeout=5)  # recovered
    with app.app_context():
        assert run_due(names=["orders.cancel_unwanted"]) == {"orders.cancel_unwanted": 1}
        assert run_due(names=["orders.cancel_unwanted"]) == {"orders.cancel_unwanted": 0}
    assert orders.order(trip_id).state == "cancelled"
    (after,) = requests.get(f"{sandboxes['ridehail'].url}/__sandbox/orders", timeout=5, params={
        "out_order_id": row.out_order_id}).json()["items"]
    assert after["state"] == "cancelled"
    trip = orders.trip(trip_id)
    assert (trip["state"], trip["channel"]) == expected


def test_a_trip_moved_to_the_fleet_is_priced_by_the_fleet_and_reapproved_above_a_threshold(
        orders, faults, frozen_clock, api, app):
    """Issue 12 #8b: a ride-hailing trip switched to the fleet kept the ride-hailing estimate
    and skipped the platform step its fleet price needs. The fleet's estimate replaces it,
    and the step the approved workflow did not hold is asked for before dispatch."""
    trip_id = factories.new_trip(api)
    offers = ok(api.post(f"/trips/{trip_id}/quotes", "demo-traveler"))["offers"]
    ride = next(o for o in offers if o["channel"] == "ridehail" and o["compliant"])
    fleet = next(o for o in offers
                 if o["channel"] == "fleet" and o["vehicle_class"] == ride["vehicle_class"])
    assert Decimal(fleet["price"]) > Decimal(ride["price"])
    # the platform step from the fleet's price on: the ride-hailing price stays below it
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.openid == "demo-admin"))
        publish_policy(db.session, actor=admin, effective_from=clock.now() - timedelta(minutes=1),
                       rules={"steps": [
                           {"key": "unit", "name": "单位审批", "approvers": "unit", "mode": "any",
                            "when": []},
                           {"key": "platform", "name": "平台审批", "approvers": "platform",
                            "mode": "any", "when": [{"type": "estimate_at_least",
                                                     "amount": fleet["price"]}]}]})
        db.session.commit()
        db.session.remove()
    ok(api.post(f"/trips/{trip_id}/submit", "demo-traveler", json={"offer_id": ride["id"]}))
    orders.approve(trip_id)
    steps = ok(api.get(f"/trips/{trip_id}/approval", "demo-traveler"))["steps"]
    assert [s["key"] for s in steps] == ["unit"]
    now = frozen_clock(clock.now())
    faults("ridehail", fault="5xx", path="/v1/orders")
    for attempt in range(5):
        orders.book(now + timedelta(hours=attempt))
    assert orders.order(trip_id).state == "failed"

    trip = ok(api.post(f"/trips/{trip_id}/switch-to-fleet", "demo-dispatcher",
                       json={"reason": "网约车下单失败，改派公车"}))
    assert (trip["channel"], trip["estimate"], trip["state"]) == (
        "fleet", fleet["price"], "pending_approval")
    switched = next(d for _, _, d in orders.events(trip_id)
                    if d.get("action") == "dispatch:switched_to_fleet")
    assert (switched["estimate_before"], switched["estimate"]) == (ride["price"], fleet["price"])
    assert trip["history"][-1]["state"] == "pending_approval"
    queue = ok(api.get("/dispatch/queue", "demo-dispatcher"))["items"]
    assert trip_id not in [t["id"] for t in queue]
    approval = ok(api.get(f"/trips/{trip_id}/approval", "demo-traveler"))
    assert [(s["key"], s["state"]) for s in approval["steps"]] == [
        ("unit", "approved"), ("platform", "pending")]
    assert approval["state"] == "pending"
    assert not [t for t in ok(api.get("/approvals?state=pending", "demo-approver"))["items"]
                if t["trip_id"] == trip_id]   # the unit's approval stands
    (task,) = [t for t in ok(api.get("/approvals?state=pending", "demo-platform-approver"))[
        "items"] if t["trip_id"] == trip_id]
    ok(api.post(f"/approvals/{task['id']}/approve", "demo-platform-approver",
                json={"comment": "同意"}))
    assert orders.trip(trip_id)["state"] == "approved"
    queue = ok(api.get("/dispatch/queue", "demo-dispatcher"))["items"]
    assert next(t for t in queue if t["id"] == trip_id)["channel"] == "fleet"
