"""Explicit wiring: each app gets its own jobs and event subscribers from the domains'
``init_app``; nothing is registered globally."""
from __future__ import annotations

from app import create_app, events, jobs
from app.trips import events as trip_events


def _names(handlers):
    return [f"{h.__module__}.{h.__name__}" for h in handlers]


def test_create_app_subscribes_each_domain_once(tmp_path):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'a.sqlite'}"})
    assert _names(events.subscribers(trip_events.TRIP_CANCELLED, app)) == [
        "app.approvals.service.close_on_cancel",
        "app.dispatch.service.release_on_cancel",
        "app.orders.service.cancel_provider_order",
    ]
    assert _names(events.subscribers(trip_events.TRIP_FINISHED, app)) == [
        "app.billing.handlers.price_finished_trip"]
    assert _names(events.subscribers("charge_changed", app)) == [
        "app.settlements.service.resettle_charge"]
    assert "orders.book" in jobs.registered(app) and "approvals.expire" in jobs.registered(app)


def test_apps_do_not_share_subscribers(tmp_path):
    first = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'a.sqlite'}"})
    second = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'b.sqlite'}"})
    seen = []

    def spy(session, **payload):
        seen.append(payload)

    trip_events.subscribe(first, trip_events.TRIP_SETTLED, spy)
    assert spy in events.subscribers(trip_events.TRIP_SETTLED, first)
    assert spy not in events.subscribers(trip_events.TRIP_SETTLED, second)
    assert len(events.subscribers(trip_events.TRIP_CANCELLED, second)) == 3


def test_publishing_an_unknown_trip_event_is_refused(tmp_path):
    import pytest
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'a.sqlite'}"})
    with app.app_context(), pytest.raises(ValueError):
        trip_events.publish(None, "trip_teleported", trip=None)
