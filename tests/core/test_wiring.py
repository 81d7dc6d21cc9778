"""Explicit wiring: each app gets its own jobs and event subscribers from the domains'
``init_app``; nothing is registered globally."""
from __future__ import annotations

import pytest
from flask import Flask

from app import events, jobs
from app.trips import events as trip_events


def _names(handlers):
    return [f"{h.__module__}.{h.__name__}" for h in handlers]


def test_create_app_subscribes_each_domain_once(app):
    assert _names(events.subscribers(trip_events.TRIP_CANCELLED, app)) == [
        "app.approvals.workflow.close_on_cancel",
        "app.dispatch.assignment.release_on_cancel",
        "app.orders.cancellation.cancel_provider_order",
        "app.notifications.handlers.on_cancelled",
        "app.partners.inbound.on_cancelled",
    ]
    # Billing prices a finished trip before partners send its bill to the partner.
    assert _names(events.subscribers(trip_events.TRIP_FINISHED, app)) == [
        "app.billing.handlers.price_finished_trip", "app.notifications.handlers.on_finished",
        "app.supervision.service.check_trip", "app.partners.inbound.on_finished"]
    assert _names(events.subscribers("violation_check", app)) == [
        "app.supervision.service.on_check"]
    assert _names(events.subscribers(trip_events.TRIP_DISPATCHED, app)) == [
        "app.notifications.handlers.on_dispatched", "app.partners.inbound.on_dispatched"]
    assert _names(events.subscribers("charge_changed", app)) == [
        "app.settlements.service.resettle_charge"]
    assert "orders.book" in jobs.registered(app) and "approvals.expire" in jobs.registered(app)
    assert "supervision.sweep" in jobs.registered(app)


def test_apps_do_not_share_subscribers():
    first, second = Flask("first"), Flask("second")

    def spy(session, **payload):
        return payload["trip"]

    trip_events.subscribe(first, trip_events.TRIP_SETTLED, spy)
    trip_events.subscribe(first, trip_events.TRIP_SETTLED, spy)  # once only
    assert events.subscribers(trip_events.TRIP_SETTLED, first) == [spy]
    assert events.subscribers(trip_events.TRIP_SETTLED, second) == []
    with first.app_context():
        assert trip_events.publish(None, trip_events.TRIP_SETTLED, trip="T1") == ["T1"]
    with second.app_context():
        assert trip_events.publish(None, trip_events.TRIP_SETTLED, trip="T1") == []


def test_publishing_an_unknown_trip_event_is_refused():
    with Flask("x").app_context(), pytest.raises(ValueError):
        trip_events.publish(None, "trip_teleported", trip=None)
