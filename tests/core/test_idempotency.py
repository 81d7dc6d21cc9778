"""Idempotency-Key (SPEC §8): replays, reuse with another body, concurrent duplicates."""
from datetime import timedelta
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import requests
from sqlalchemy import func, select

from app import clock, db
from app.idempotency import IdempotencyKey
from app.trips.models import Trip
from tests import factories


def trip_body(**over):
    """Departing on a whole second, so two bodies built in a row are the same request."""
    return factories.trip_request(
        depart_at=(clock.now() + timedelta(days=1)).replace(microsecond=0), **over)


def count_trips(app):
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(Trip))
        db.session.remove()
        return n


def test_replay_returns_first_response_and_creates_nothing_twice(api, app):
    body = trip_body()
    first = api.post("/trips", as_="demo-traveler", json=body, headers={"Idempotency-Key": "k-1"})
    second = api.post("/trips", as_="demo-traveler", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert count_trips(app) == 1


def test_same_key_with_another_body_is_422(api, app):
    api.post("/trips", as_="demo-traveler", json=trip_body(), headers={"Idempotency-Key": "k-2"})
    other = api.post("/trips", as_="demo-traveler",
                     json=trip_body(purpose="inspection", text="调研"),
                     headers={"Idempotency-Key": "k-2"})
    assert other.status_code == 422 and other.get_json()["code"] == "idempotency_key_reused"
    assert count_trips(app) == 1


def test_keys_are_per_user(api, app):
    body = trip_body()
    a = api.post("/trips", as_="demo-traveler", json=body, headers={"Idempotency-Key": "shared"})
    b = api.post("/trips", as_="demo-traveler-2", json=body, headers={"Idempotency-Key": "shared"})
    assert a.status_code == b.status_code == 201
    assert a.get_json()["id"] != b.get_json()["id"]


def test_in_flight_duplicate_is_409(api, app, demo):
    """A key claimed by a request still running (in any process) answers 409."""
    body = trip_body()
    token = api.login("demo-traveler")
    with app.test_request_context("/api/v1/trips", method="POST", json=body,
                                  headers={"Authorization": f"Bearer {token}"}):
        from app.idempotency import _fingerprint
        fingerprint = _fingerprint()
    with app.app_context():
        db.session.add(IdempotencyKey(scope=f"user:{demo['users']['demo-traveler']}", key="busy",
                                      fingerprint=fingerprint, user_id=demo["users"]["demo-traveler"]))
        db.session.commit()
        db.session.remove()
    resp = api.post("/trips", as_="demo-traveler", json=body, headers={"Idempotency-Key": "busy"})
    assert resp.status_code == 409 and resp.get_json()["code"] == "idempotency_in_progress"
    assert count_trips(app) == 0


def test_concurrent_duplicates_create_exactly_one(api, app, live_server):
    token = api.login("demo-traveler")
    body = trip_body()
    barrier = Barrier(8)

    def fire(_):
        barrier.wait()
        return requests.post(f"{live_server}/api/v1/trips", json=body, timeout=30, headers={
            "Authorization": f"Bearer {token}", "Idempotency-Key": "race"})

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(fire, range(8)))
    codes = sorted(r.status_code for r in results)
    assert set(codes) <= {201, 409}, codes
    created = {r.json()["id"] for r in results if r.status_code == 201}
    assert len(created) == 1
    assert all(r.json()["code"] == "idempotency_in_progress" for r in results if r.status_code == 409)
    assert count_trips(app) == 1


def test_refused_request_is_replayed_not_redone(api):
    body = trip_body(passengers=0)
    first = api.post("/trips", as_="demo-traveler", json=body, headers={"Idempotency-Key": "bad"})
    again = api.post("/trips", as_="demo-traveler", json=body, headers={"Idempotency-Key": "bad"})
    assert first.status_code == again.status_code == 422
    assert again.headers.get("Idempotent-Replayed") == "true"
