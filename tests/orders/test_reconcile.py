"""Missed provider callbacks reconciled by the worker (``orders.reconcile``) over real HTTP:
the provider is asked about orders not heard of for a while, and its answer is applied as
its callback would have been."""
from __future__ import annotations

import socket
import time
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from sqlalchemy import func, select

from app import clock, db
from app.audit import AuditEntry
from app.worker import run_due
from tests.factories import ok
from tests.orders.conftest import sandbox_post, signed

LATER = timedelta(minutes=10)  # past the reconciliation's five quiet minutes


def reconcile(app) -> dict:
    with app.app_context():
        return run_due(names=["orders.reconcile"])


def audit_count(app) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(AuditEntry))
        db.session.remove()
        return n


def made_for(sandboxes, provider: str, out_order_id: str) -> dict:
    """The one order the provider holds under our reference."""
    (made,) = requests.get(f"{sandboxes[provider].url}/__sandbox/orders", timeout=5,
                           params={"out_order_id": out_order_id}).json()["items"]
    return made


@pytest.fixture
def app_down(sandboxes, webhooks):
    """Call to take the app down for the ride-hailing sandbox: its callbacks find nobody
    listening and are given up after one attempt each."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # free again once closed: nothing listens there

    def down():
        sandbox_post(sandboxes, "ridehail", "/config", {
            "webhook_url": f"http://127.0.0.1:{port}/api/v1/webhooks/ridehail",
            "callback_attempts": 1})

    yield down
    sandbox_post(sandboxes, "ridehail", "/config", {"callback_attempts": 6})


def wait_given_up(sandboxes, order_id: str, state: str, timeout: float = 10) -> None:
    """Until the sandbox has tried (and failed) to call back ``state`` for the order."""
    deadline = time.monotonic() + timeout
    while True:
        items = requests.get(f"{sandboxes['ridehail'].url}/__sandbox/callbacks",
                             timeout=5).json()["items"]
        if any(c["order_id"] == order_id and c["state"] == state for c in items):
            assert not any(c["order_id"] == order_id and c["state"] == state
                           and c["status"] == 200 for c in items)
            return
        assert time.monotonic() < deadline, items
        time.sleep(0.05)


def test_a_completion_whose_callback_was_lost_is_reconciled_and_billed_once(
        orders, app_down, sandboxes, bills, api, app, live_server, frozen_clock):
    trip_id = orders.approved_trip("ridehail")
    orders.book()
    row = orders.order(trip_id)
    orders.advance("ridehail", row.order_id, to="assigned")
    orders.wait_callbacks("ridehail", row.order_id, 1)
    app_down()  # the app crashed: the rest of the ride's callbacks are lost
    orders.advance("ridehail", row.order_id, to="in_trip")
    done = orders.advance("ridehail", row.order_id, to="completed", tolls="12.00")
    wait_given_up(sandboxes, row.order_id, "completed")
    assert orders.trip(trip_id)["state"] == "dispatched" and not bills

    frozen_clock(clock.now() + LATER)
    assert reconcile(app) == {"orders.reconcile": 1}
    assert orders.trip(trip_id)["state"] == "completed"
    (call,) = bills
    assert call[0] == trip_id and call[1].total == Decimal(done["fee"]["total"])
    assert any(line.kind == "tolls" and line.amount == Decimal("12.00") for line in call[1].lines)
    charge = ok(api.get(f"/trips/{trip_id}/charge", "demo-traveler"))
    assert charge["total"] == done["fee"]["total"] and charge["order_id"] == row.order_id
    assert orders.order(trip_id).state == "completed" and orders.order(trip_id).bill
    moves = [(f, t, d.get("event"), d.get("provider")) for f, t, d in orders.events(trip_id)
             if f != t]
    assert moves[-1] == ("dispatched", "completed", "completed", "ridehail")

    # The order is final: a later run asks nothing, and the provider's callback arriving
    # late (its retries resumed) is a stale event; the bill stays one.
    before = audit_count(app)
    frozen_clock(clock.now() + timedelta(hours=1))
    assert reconcile(app) == {"orders.reconcile": 0}
    late = signed("ridehail", {
        "event": "order.state", "order_id": row.order_id, "out_order_id": row.out_order_id,
        "state": "completed", "occurred_at": clock.now().isoformat(), "fee": done["fee"]},
        at=clock.now().timestamp())
    resp = requests.post(f"{live_server}/api/v1/webhooks/ridehail", json=late, timeout=5)
    assert resp.status_code == 200 and resp.json()["ignored"] == "stale_event"
    assert len(bills) == 1 and audit_count(app) == before
    assert ok(api.get(f"/trips/{trip_id}/charge", "demo-traveler"))["total"] == charge["total"]


def test_an_order_whose_booking_answers_were_all_lost_is_found_by_our_reference(
        orders, faults, sandboxes, bills, app, frozen_clock):
    """The provider made the order but every answer to the booking was lost, so we gave up
    without its id; no callback reaches us (callbacks disabled). The job finds the order by
    our reference and follows it until final."""
    trip_id = orders.approved_trip("ridehail")
    faults("ridehail", fault="lost_response", path="/v1/orders")
    start = clock.now()
    for attempt in range(5):
        orders.book(start + timedelta(hours=attempt))
    row = orders.order(trip_id)
    assert row.state == "failed" and row.order_id is None
    assert "5次均失败" in orders.dispatch(trip_id)["dispatch_issue"]
    sandbox_post(sandboxes, "ridehail", "/faults", method="delete")  # the provider recovered

    now = frozen_clock(start + LATER)
    assert reconcile(app) == {"orders.reconcile": 1}
    made = made_for(sandboxes, "ridehail", row.out_order_id)
    row = orders.order(trip_id)
    assert (row.state, row.order_id) == ("created", made["order_id"])
    trip = orders.dispatch(trip_id)
    assert trip["state"] == "dispatched" and trip["dispatch_issue"] is None

    orders.advance("ridehail", made["order_id"], to="in_trip")
    assert reconcile(app) == {"orders.reconcile": 0}  # heard of it just now: not asked yet
    frozen_clock(now + LATER)
    assert reconcile(app) == {"orders.reconcile": 1}
    assert orders.trip(trip_id)["state"] == "in_progress"
    orders.advance("ridehail", made["order_id"], to="completed")
    frozen_clock(now + 2 * LATER)
    assert reconcile(app) == {"orders.reconcile": 1}
    assert orders.trip(trip_id)["state"] == "completed"
    assert len(bills) == 1 and bills[0][2].order_id == made["order_id"]
    frozen_clock(now + 3 * LATER)
    assert reconcile(app) == {"orders.reconcile": 0}
    assert len(bills) == 1
    assert made_for(sandboxes, "ridehail", row.out_order_id)["state"] == "completed"


def test_a_quiet_rental_is_polled_and_an_unchanged_answer_changes_nothing(
        orders, sandboxes, bills, app, frozen_clock):
    trip_id = orders.approved_trip("rental", provider="rental-a")
    orders.book()
    row = orders.order(trip_id)
    orders.advance("rental-a", row.order_id, to="assigned")  # callbacks disabled
    now = frozen_clock(clock.now() + LATER)
    assert reconcile(app) == {"orders.reconcile": 1}
    assert orders.order(trip_id).plate and orders.trip(trip_id)["state"] == "dispatched"

    before = audit_count(app)
    frozen_clock(now + LATER)
    assert reconcile(app) == {"orders.reconcile": 1}  # asked again: still assigned
    assert audit_count(app) == before and orders.order(trip_id).state == "assigned"

    orders.advance("rental-a", row.order_id, to="finished", actual_km="130")
    frozen_clock(now + 2 * LATER)
    assert reconcile(app) == {"orders.reconcile": 1}
    assert orders.trip(trip_id)["state"] == "completed" and len(bills) == 1
    (_, _, data) = orders.events(trip_id)[-1]
    assert data["actual_km"] == "130"


def test_a_failed_order_the_provider_never_made_is_looked_up_once(
        orders, faults, sandboxes, app, frozen_clock):
    trip_id = orders.approved_trip("ridehail")
    faults("ridehail", fault="5xx", path="/v1/orders")
    start = clock.now()
    for attempt in range(5):
        orders.book(start + timedelta(hours=attempt))
    assert orders.order(trip_id).state == "failed"
    # Asking fails too while the provider is down: asked again later.
    frozen_clock(start + LATER)
    assert reconcile(app) == {"orders.reconcile": 1}
    assert orders.order(trip_id).last_event_at is None
    sandbox_post(sandboxes, "ridehail", "/faults", method="delete")
    frozen_clock(start + 2 * LATER)
    assert reconcile(app) == {"orders.reconcile": 1}
    row = orders.order(trip_id)
    assert row.state == "failed" and row.order_id is None and row.last_event_at
    frozen_clock(start + 4 * LATER)
    assert reconcile(app) == {"orders.reconcile": 0}  # the provider has none: done
    assert orders.dispatch(trip_id)["state"] == "approved"
