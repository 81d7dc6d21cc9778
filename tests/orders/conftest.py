"""Provider-order fixtures: trips booked through the real sandboxes, whose callbacks reach
the app on a real loopback server, and a recorder on the ``provider_bill`` hook."""
from __future__ import annotations

import json
import secrets
import time

import pytest
import requests
from sqlalchemy import select

from app import clock, db
from app.trips import events
from app.orders.models import ProviderOrder
from app.trips.models import Trip
from app.worker import run_due
from providers.http import sign_params, sign_webhook
from providers.registry import DEFAULTS
from tests import factories
from tests.factories import ok

SUPPLIERS = ("ridehail", "rental-a", "rental-b")
KEYS = {c.name: (c.app_key, c.secret) for c in DEFAULTS if c.app_key}
APPROVERS = ("demo-approver", "demo-platform-approver")


def sandbox_post(sandboxes, name, path, body=None, method="post"):
    resp = requests.request(method, f"{sandboxes[name].url}/__sandbox{path}", json=body or {},
                            timeout=5)
    resp.raise_for_status()
    return resp.json()


@pytest.fixture
def faults(sandboxes):
    """Set a fault rule on a supply sandbox; every rule is cleared after the test."""

    def set_fault(name, **rule):
        sandbox_post(sandboxes, name, "/faults", rule)

    yield set_fault
    for name in SUPPLIERS:
        sandbox_post(sandboxes, name, "/faults", method="delete")


@pytest.fixture
def webhooks(sandboxes, live_server):
    """Point every supply sandbox's callbacks at the app's webhook on ``live_server``."""
    for name in SUPPLIERS:
        sandbox_post(sandboxes, name, "/config", {
            "webhook_url": f"{live_server}/api/v1/webhooks/{name}", "callback_backoff": 0.05})
    yield live_server
    for name in SUPPLIERS:
        sandbox_post(sandboxes, name, "/config", {"webhook_url": None, "callback_backoff": 0.2})


@pytest.fixture
def bills(app):
    """Every ``provider_bill`` event: (trip id, bill, order)."""
    calls = []

    def record(session, *, trip, bill, order):
        calls.append((trip.id, bill, order))

    events.subscribe(app, events.PROVIDER_BILL, record)
    yield calls
    events.unsubscribe(app, events.PROVIDER_BILL, record)


class Orders:
    """Drives a provider trip from request to booking over the API, as the mini-program,
    the approvers and the worker would."""

    def __init__(self, api, app, sandboxes):
        self.api, self.app, self.sandboxes = api, app, sandboxes

    def approved_trip(self, channel: str, *, provider: str | None = None,
                      purpose: str = "meeting", approve: bool = True) -> int:
        trip_id = factories.new_trip(self.api, purpose=purpose)
        quotes = ok(self.api.post(f"/trips/{trip_id}/quotes", "demo-traveler"))
        offer = next(o for o in quotes["offers"] if o["channel"] == channel and o["compliant"]
                     and (provider is None or o["provider"] == provider))
        ok(self.api.post(f"/trips/{trip_id}/submit", "demo-traveler",
                         json={"offer_id": offer["id"]}))
        if approve:
            self.approve(trip_id)
        return trip_id

    def approve(self, trip_id: int) -> None:
        for _ in range(3):
            for approver in APPROVERS:
                tasks = ok(self.api.get("/approvals?state=pending", approver))["items"]
                for task in tasks:
                    if task["trip_id"] == trip_id:
                        ok(self.api.post(f"/approvals/{task['id']}/approve", approver,
                                         json={"comment": "同意"}))
        assert self.trip(trip_id)["state"] == "approved"

    def book(self, now=None) -> dict:
        with self.app.app_context():
            return run_due(now=now or clock.now(), names=["orders.book"])

    def trip(self, trip_id: int) -> dict:
        return ok(self.api.get(f"/trips/{trip_id}", "demo-traveler"))

    def dispatch(self, trip_id: int) -> dict:
        return ok(self.api.get(f"/trips/{trip_id}/dispatch", "demo-traveler"))

    def order(self, trip_id: int) -> ProviderOrder:
        with self.app.app_context():
            row = db.session.scalar(select(ProviderOrder).where(ProviderOrder.trip_id == trip_id))
            db.session.remove()
            return row

    def events(self, trip_id: int) -> list:
        with self.app.app_context():
            trip = db.session.get(Trip, trip_id)
            out = [(e.from_state.value, e.to_state.value, dict(e.data)) for e in trip.events]
            db.session.remove()
            return out

    def advance(self, provider: str, order_id: str, **body) -> dict:
        return sandbox_post(self.sandboxes, provider, f"/orders/{order_id}/advance", body)

    def wait_state(self, trip_id: int, state: str, timeout: float = 10) -> dict:
        """Callbacks arrive asynchronously over HTTP: poll until the trip gets there."""
        deadline = time.monotonic() + timeout
        while True:
            trip = self.trip(trip_id)
            if trip["state"] == state or time.monotonic() > deadline:
                assert trip["state"] == state, trip
                return trip
            time.sleep(0.05)

    def wait_callbacks(self, provider: str, order_id: str, count: int, timeout: float = 10):
        """Until ``count`` callbacks for the order were answered 2xx by the app."""
        deadline = time.monotonic() + timeout
        while True:
            items = requests.get(f"{self.sandboxes[provider].url}/__sandbox/callbacks",
                                 timeout=5).json()["items"]
            done = [c for c in items if c["order_id"] == order_id
                    and isinstance(c["status"], int) and c["status"] < 300]
            if len(done) >= count or time.monotonic() > deadline:
                assert len(done) >= count, items
                return done
            time.sleep(0.05)


@pytest.fixture
def orders(api, app, sandboxes):
    return Orders(api, app, sandboxes)


def signed(provider: str, payload: dict, *, at: float | None = None) -> dict:
    """A ride-hailing callback body signed like the platform signs it (in its fields)."""
    app_key, secret = KEYS[provider]
    return sign_params(payload, app_key, secret, now=at)


def webhook(provider: str, payload: dict, *, msg_id: str | None = None,
            at: float | None = None) -> tuple[dict, bytes]:
    """A rental company's callback as Standard Webhooks: (headers, raw body)."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    headers = sign_webhook(msg_id or "msg_" + secrets.token_hex(12), body, KEYS[provider][1],
                           now=at)
    return {"Content-Type": "application/json", **headers}, body
