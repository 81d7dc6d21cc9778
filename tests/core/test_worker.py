"""The worker runs registered jobs with a controllable clock; old idempotency keys are purged."""
from datetime import timedelta

from sqlalchemy import func, select

from app import clock, db
from app.idempotency import IdempotencyKey
from app.worker import run_due


def test_idempotency_keys_are_purged_after_a_week(api, app):
    api.post("/trips", as_="demo-traveler", json={}, headers={"Idempotency-Key": "old"})
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(IdempotencyKey)) == 1
        assert run_due(now=clock.now() + timedelta(days=6), names=["idempotency.purge"]) == {
            "idempotency.purge": 0}
        assert run_due(now=clock.now() + timedelta(days=8), names=["idempotency.purge"]) == {
            "idempotency.purge": 1}
        assert db.session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0
        db.session.remove()
