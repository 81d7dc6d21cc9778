"""Trips booked with the DiDi-shaped provider: its notifies reach the app over real HTTP as
multipart forms, the app re-queries the order and answers errno 0; reassigned ids, the
poller, fen bills and the fee rule at cancellation, end to end."""
from __future__ import annotations

import json
import time
from datetime import timedelta
from decimal import Decimal

import pytest
import requests

from app import clock, supply
from app.worker import run_due
from tests.factories import ok
from tests.orders.conftest import sandbox_post


@pytest.fixture
def didi(app, sandboxes):
    """The demo's DiDi-shaped provider enabled (as ``make run`` has it), for this test."""
    before = app.config["PROVIDERS_JSON"]
    settings = json.loads(before or "{}")
    settings["didi"] = {**settings.get("didi", {}), "enabled": True}
    app.config["PROVIDERS_JSON"] = json.dumps(settings)
    supply.replace_providers(None, app)
    yield sandboxes["didi"]
    app.config["PROVIDERS_JSON"] = before
    supply.replace_providers(None, app)


@pytest.fixture
def didi_hooks(didi, live_server):
    sandbox_post({"didi": didi}, "didi", "/config", {
        "webhook_url": f"{live_server}/api/v1/webhooks/didi", "callback_backoff": 0.05})
    yield didi
    sandbox_post({"didi": didi}, "didi", "/config", {"webhook_url": None})


def notifies(server, order_id: str) -> list[dict]:
    items = requests.get(f"{server.url}/__sandbox/callbacks", timeout=5).json()["items"]
    return [c for c in items if c["order_id"] == order_id]


def wait_notifies(server, order_id: str, count: int, timeout: float = 10) -> list[dict]:
    """Until ``count`` notifies for the order were answered (whatever the answer)."""
    deadline = time.monotonic() + timeout
    while True:
        done = [c for c in notifies(server, order_id) if c["acked"] or c["status"] == 401]
        if len(done) >= count or time.monotonic() > deadline:
            assert len(done) >= count, notifies(server, order_id)
            return done
        time.sleep(0.05)


def didi_trip(orders) -> tuple[int, str]:
    trip_id = orders.approved_trip("ridehail", provider="didi")
    orders.book()
    row = orders.order(trip_id)
    assert row.provider == "didi" and row.state == "created" and row.order_id.startswith("DD")
    return trip_id, row.order_id


def test_a_didi_trip_from_booking_to_a_bill_in_fen(orders, didi_hooks, bills):
    trip_id, order_id = didi_trip(orders)
    orders.advance("didi", order_id, to="assigned")
    [ack] = wait_notifies(didi_hooks, order_id, 1)
    assert ack["status"] == 200 and ack["acked"]  # our answer was {"errno": 0}
    dispatch = orders.dispatch(trip_id)
    assert dispatch["state"] == "dispatched"
    assert dispatch["provider_order"]["plate"] == f"苏DT{order_id[-4:]}"
    moved = orders.advance("didi", order_id, to="completed", highway_fee=1250,
                           extra_fees={"night_fee": 300})
    orders.wait_state(trip_id, "completed")
    total = Decimal(moved["price"]["total_price"]) / 100
    assert len(bills) == 1 and bills[0][1].total == total
    lines = {line.kind: line.amount for line in bills[0][1].lines}
    assert lines["tolls"] == Decimal("12.50") and lines["other"] == Decimal("3.00")
    assert orders.order(trip_id).bill[-1] == {"kind": "other", "description": "其他费用",
                                              "amount": "3.00"}


def test_a_notify_with_a_wrong_md5_signature_is_refused_and_changes_nothing(orders, didi_hooks):
    trip_id, order_id = didi_trip(orders)
    sandbox_post({"didi": didi_hooks}, "didi", f"/orders/{order_id}/advance", {"to": "assigned"})
    wait_notifies(didi_hooks, order_id, 1)
    before = orders.order(trip_id)
    sandbox_post({"didi": didi_hooks}, "didi", "/callbacks/send",
                 {"order_id": order_id, "sign": "f" * 32})
    refused = [c for c in wait_notifies(didi_hooks, order_id, 2) if c["status"] == 401]
    assert len(refused) == 1 and not refused[0]["acked"]
    assert orders.order(trip_id).updated_at == before.updated_at


def test_a_reassigned_order_keeps_its_history_and_notifies_for_the_new_id_find_the_trip(
        orders, didi_hooks):
    trip_id, first_id = didi_trip(orders)
    orders.advance("didi", first_id, to="assigned")
    wait_notifies(didi_hooks, first_id, 1)
    new_id = sandbox_post({"didi": didi_hooks}, "didi", f"/orders/{first_id}/reassign")["order_id"]
    wait_notifies(didi_hooks, new_id, 1)
    row = orders.order(trip_id)
    assert (row.order_id, row.order_id_history, row.plate) == (new_id, [first_id], None)
    orders.advance("didi", new_id, to="assigned")
    wait_notifies(didi_hooks, new_id, 2)
    assert orders.dispatch(trip_id)["provider_order"]["plate"] == f"苏DT{new_id[-4:]}"
    orders.advance("didi", new_id, to="in_trip")
    orders.wait_state(trip_id, "in_progress")
    notes = [data.get("event") or data for _, _, data in orders.events(trip_id)]
    assert any(isinstance(n, dict) and n.get("from_order_id") == first_id for n in notes)


def test_the_poller_asks_about_didi_orders_whose_notifies_never_came(orders, didi, app):
    trip_id, order_id = didi_trip(orders)  # no webhook: DiDi notifies no one
    orders.advance("didi", order_id, to="assigned")
    assert orders.order(trip_id).state == "created"
    with app.app_context():
        run_due(now=clock.now() + timedelta(minutes=6), names=["orders.reconcile"])
    row = orders.order(trip_id)
    assert row.state == "assigned" and row.plate == f"苏DT{order_id[-4:]}"
    assert orders.trip(trip_id)["state"] == "dispatched"


def test_cancelling_charges_the_fee_rule_and_a_fee_decided_later_is_recorded(orders, didi_hooks,
                                                                             api):
    trip_id, order_id = didi_trip(orders)
    orders.advance("didi", order_id, to="assigned")
    wait_notifies(didi_hooks, order_id, 1)
    trip = ok(api.post(f"/trips/{trip_id}/cancel", "demo-traveler", json={"reason": "会议取消"}))
    assert trip["state"] == "cancelled" and Decimal(trip["cancellation_fee"]) == Decimal("5.00")
    wait_notifies(didi_hooks, order_id, 2)  # DiDi's own notify of the cancel: nothing new
    assert orders.order(trip_id).cancel_fee == Decimal("5.00")
    sandbox_post({"didi": didi_hooks}, "didi", f"/orders/{order_id}/cancel_fee", {"cost": 800})
    wait_notifies(didi_hooks, order_id, 3)
    assert orders.order(trip_id).cancel_fee == Decimal("8.00")
    decided = [data for _, _, data in orders.events(trip_id)
               if data.get("fee") == "8.00" and data.get("before") == "5.00"]
    assert decided
    # The trip's charge (final at the cancel, 5.00 by the fee rule) becomes the decided fee.
    charge = ok(api.get(f"/trips/{trip_id}/charge", "demo-traveler"))
    assert charge["final"] is True and charge["total"] == "8.00"
    assert [line["amount"] for line in charge["lines"]] == ["8.00"]


def test_a_cancel_fee_decided_after_the_cancel_reaches_the_order_without_a_notify(orders, didi,
                                                                                  app, api):
    trip_id, order_id = didi_trip(orders)  # no webhook: DiDi notifies no one
    orders.advance("didi", order_id, to="assigned")
    ok(api.post(f"/trips/{trip_id}/cancel", "demo-traveler", json={"reason": "会议取消"}))
    assert orders.order(trip_id).cancel_fee == Decimal("5.00")  # the fee rule, asked first
    sandbox_post({"didi": didi}, "didi", f"/orders/{order_id}/cancel_fee", {"cost": 1200})
    with app.app_context():
        assert run_due(now=clock.now() + timedelta(minutes=6),
                       names=["orders.reconcile"]) == {"orders.reconcile": 1}
    assert orders.order(trip_id).cancel_fee == Decimal("12.00")
    assert ok(api.get(f"/trips/{trip_id}/charge", "demo-traveler"))["total"] == "12.00"
    with app.app_context():  # and not after the window
        assert run_due(now=clock.now() + timedelta(days=4),
                       names=["orders.reconcile"]) == {"orders.reconcile": 0}
