"""Idempotency keys survive crashes and never replay a login (issue: hardening #7, #9)."""
from datetime import timedelta

from sqlalchemy import func, select

from app import clock, db
from app.idempotency import PENDING_LEASE, IdempotencyKey
from tests import factories


def _orphan(app, user_id, key, fingerprint, age):
    """The pending key a request killed mid-flight (kill -9) leaves behind."""
    with app.app_context():
        db.session.add(IdempotencyKey(scope=f"user:{user_id}", key=key, fingerprint=fingerprint,
                                      user_id=user_id, created_at=clock.now() - age))
        db.session.commit()
        db.session.remove()


def test_a_pending_key_of_a_dead_request_is_taken_over_after_the_lease(api, app, demo,
                                                                        frozen_clock):
    frozen_clock(clock.now().replace(microsecond=0))
    body = factories.trip_request(depart_at=clock.now() + timedelta(days=1))
    user_id = demo["users"]["demo-traveler"]
    # the fingerprint of this very request (the key is not part of it)
    api.post("/trips", as_="demo-traveler", json=body, headers={"Idempotency-Key": "probe"})
    with app.app_context():
        fingerprint = db.session.scalars(select(IdempotencyKey.fingerprint)).one()
        db.session.remove()
    # within the lease the key may still belong to a live request: 409 as before
    _orphan(app, user_id, "busy-1", fingerprint, timedelta(seconds=5))
    busy = api.post("/trips", as_="demo-traveler", json=body, headers={"Idempotency-Key": "busy-1"})
    assert busy.status_code == 409 and busy.get_json()["code"] == "idempotency_in_progress"
    _orphan(app, user_id, "dead-1", fingerprint, PENDING_LEASE + timedelta(seconds=1))
    resp = api.post("/trips", as_="demo-traveler", json=body, headers={"Idempotency-Key": "dead-1"})
    assert resp.status_code == 201, resp.get_json()
    replay = api.post("/trips", as_="demo-traveler", json=body,
                      headers={"Idempotency-Key": "dead-1"})
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == resp.get_json()


def test_login_is_never_replayed_nor_its_token_stored(client, app, demo):
    body = {"code": "sandbox:demo-traveler"}
    first = client.post("/api/v1/auth/wechat-login", json=body, headers={"Idempotency-Key": "l-1"})
    second = client.post("/api/v1/auth/wechat-login", json=body, headers={"Idempotency-Key": "l-1"})
    assert first.status_code == second.status_code == 200
    assert "Idempotent-Replayed" not in second.headers
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0
        db.session.remove()
